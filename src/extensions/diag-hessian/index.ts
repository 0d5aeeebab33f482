/** DiagHessian (`diag_h`): diagonal of the exact Hessian (signed factors, the residual terms of modules with a nonzero input Hessian included), summed over samples [*θ]. */
import { numel } from '../../io/host-tensor.ts';
import { fromSum } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { diagonalSum } from '../shared/diagonals.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.DiagHessian;

export const diagHessian: Quantity = {
  name: 'DiagHessian',
  savefield: field,
  backprops: ['hessian'],
  rule: (p) => [{ field, kind: 'sum', value: diagonalSum(p, p.factors.hessian!) }],
  needs: { after: ['inputHessian'] },
  finalize: fromSum(field),
  combines: 'sum',
  outputElements: (theta) => numel(theta),
  work: { factor: 'hessian', always: false },
};
