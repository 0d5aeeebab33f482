/** HMP (`hmp`): products of the exact Hessian's parameter block with given vectors, [V, *θ]. */
import { productQuantity } from '../shared/curvature-products.ts';

export const hmp = productQuantity('HMP', 'hessian');
