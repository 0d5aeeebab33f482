/** DiagGGNExact (`diag_ggn_exact`): diagonal of the exact GGN (J ᵀ S S ᵀ J with S the exact loss-Hessian factor), summed over samples [*θ]. */
import { numel } from '../../io/host-tensor.ts';
import { fromSum } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { diagonalSum } from '../shared/diagonals.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.DiagGGNExact;

export const diagGGNExact: Quantity = {
  name: 'DiagGGNExact',
  savefield: field,
  backprops: ['sqrtExact'],
  rule: (p) => [{ field, kind: 'sum', value: diagonalSum(p, p.factors.sqrtExact!) }],
  finalize: fromSum(field),
  combines: 'sum',
  outputElements: (theta) => numel(theta),
  work: { factor: 'sqrtExact', always: false },
};
