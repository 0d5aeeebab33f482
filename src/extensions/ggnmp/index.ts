/** GGNMP (`ggnmp`): products of the exact GGN's parameter block with given vectors, [V, *θ]. */
import { blockProduct } from '../shared/curvature-products.ts';
import { everyParametric } from '../shared/tables.ts';

export const ggnmp = everyParametric((p) => [{ field: 'ggnmp', kind: 'sum', value: blockProduct(p, p.factors.sqrtExact!, 'GGNMP') }]);
