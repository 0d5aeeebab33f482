/** HMP (`hmp`): products of the exact Hessian's parameter block with given vectors, [V, *θ]. */
import { blockProduct } from '../shared/curvature-products.ts';
import { everyParametric } from '../shared/tables.ts';

export const hmp = everyParametric((p) => [{ field: 'hmp', kind: 'sum', value: blockProduct(p, p.factors.hessian!, 'HMP') }]);
