/** GGNMP (`ggnmp`): products of the exact GGN's parameter block with given vectors, [V, *θ]. */
import { productQuantity } from '../shared/curvature-products.ts';

export const ggnmp = productQuantity('GGNMP', 'sqrtExact');
