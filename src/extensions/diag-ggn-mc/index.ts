/** DiagGGNMC (`diag_ggn_mc`): diagonal of the Monte-Carlo GGN (loss-Hessian factor from sampled targets), summed over samples [*θ]. */
import { numel } from '../../io/host-tensor.ts';
import { fromSum } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { diagonalSum } from '../shared/diagonals.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.DiagGGNMC;

export const diagGGNMC: Quantity = {
  name: 'DiagGGNMC',
  savefield: field,
  backprops: ['sqrtMC'],
  rule: (p) => [{ field, kind: 'sum', value: diagonalSum(p, p.factors.sqrtMC!) }],
  finalize: fromSum(field),
  combines: 'sum',
  outputElements: (theta) => numel(theta),
  work: { factor: 'sqrtMC', always: false },
};
