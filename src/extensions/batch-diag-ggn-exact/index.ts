/** BatchDiagGGNExact (`diag_ggn_exact_batch`): diagonal of the exact GGN (J ᵀ S S ᵀ J with S the exact loss-Hessian factor), per sample [n, *θ], subsampling respected. */
import { numel } from '../../io/host-tensor.ts';
import { fromRows } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { diagonalRows } from '../shared/diagonals.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.BatchDiagGGNExact;

export const batchDiagGGNExact: Quantity = {
  name: 'BatchDiagGGNExact',
  savefield: field,
  backprops: ['sqrtExact'],
  rule: (p) => [{ field, kind: 'rows', value: diagonalRows(p, p.factors.sqrtExact!) }],
  finalize: fromRows(field),
  combines: 'rows',
  outputElements: (theta) => numel(theta),
  work: { factor: 'sqrtExact', always: false },
};
