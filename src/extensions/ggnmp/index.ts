/** GGNMP (`ggnmp`): products of the exact GGN's parameter block with given vectors, [V, *θ]. */
import { blockProduct } from '../shared/curvature-products.ts';
import type { Rule } from '../types.ts';

export const ggnmp: Rule = (p) => [{ field: 'ggnmp', kind: 'sum', value: blockProduct(p, p.factors.sqrtExact!, 'GGNMP') }];
