/** HMP (`hmp`): products of the exact Hessian's parameter block with given vectors, [V, *θ]. */
import { numel } from '../../io/host-tensor.ts';
import { fromSum } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { blockProduct } from '../shared/curvature-products.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.HMP;

export const hmp: Quantity = {
  name: 'HMP',
  savefield: field,
  backprops: ['hessian'],
  rule: (p) => [{ field, kind: 'sum', value: blockProduct(p, p.factors.hessian!, 'HMP') }],
  needs: { after: ['inputHessian'] },
  finalize: fromSum(field),
  combines: 'sum',
  outputElements: (theta, s) => s.vectors * numel(theta),
  work: { factor: 'hessian', always: true },
};
