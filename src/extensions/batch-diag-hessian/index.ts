/** BatchDiagHessian (`diag_h_batch`): diagonal of the exact Hessian (signed factors, the residual terms of modules with a nonzero input Hessian included), per sample [n, *θ], subsampling respected. */
import { numel } from '../../io/host-tensor.ts';
import { fromRows } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { diagonalRows } from '../shared/diagonals.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.BatchDiagHessian;

export const batchDiagHessian: Quantity = {
  name: 'BatchDiagHessian',
  savefield: field,
  backprops: ['hessian'],
  rule: (p) => [{ field, kind: 'rows', value: diagonalRows(p, p.factors.hessian!) }],
  needs: { after: ['inputHessian'] },
  finalize: fromRows(field),
  combines: 'rows',
  outputElements: (theta) => numel(theta),
  work: { factor: 'hessian', always: false },
};
