/** BatchDiagGGNMC (`diag_ggn_mc_batch`): diagonal of the Monte-Carlo GGN (loss-Hessian factor from sampled targets), per sample [n, *θ], subsampling respected. */
import { numel } from '../../io/host-tensor.ts';
import { fromRows } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { diagonalRows } from '../shared/diagonals.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.BatchDiagGGNMC;

export const batchDiagGGNMC: Quantity = {
  name: 'BatchDiagGGNMC',
  savefield: field,
  backprops: ['sqrtMC'],
  rule: (p) => [{ field, kind: 'rows', value: diagonalRows(p, p.factors.sqrtMC!) }],
  finalize: fromRows(field),
  combines: 'rows',
  outputElements: (theta) => numel(theta),
  work: { factor: 'sqrtMC', always: false },
};
