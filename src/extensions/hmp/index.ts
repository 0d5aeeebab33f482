/** HMP (`hmp`): products of the exact Hessian's parameter block with given vectors, [V, *θ]. */
import { blockProduct } from '../shared/curvature-products.ts';
import type { Rule } from '../types.ts';

export const hmp: Rule = (p) => [{ field: 'hmp', kind: 'sum', value: blockProduct(p, p.factors.hessian!, 'HMP') }];
