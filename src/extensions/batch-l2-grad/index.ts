/**
 * BatchL2Grad (`batch_l2`): ‖∇ℓ_n‖² per sample [n].
 * Modules square their Jacobians without storing them where they can: Linear by BackPACK's
 * rank-one identity ‖g_n x_nᵀ‖² = ‖g_n‖²·‖x_n‖², convolutions by a fused kernel on native.
 */
import { fromRows } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.BatchL2Grad;

export const batchL2Grad: Quantity = {
  name: 'BatchL2Grad',
  savefield: field,
  backprops: [],
  rule: (p) => [{ field, kind: 'rows', value: p.squares(p.sub().gOut.expandDims(0), 'norms', { sub: true }) }],
  finalize: fromRows(field),
  combines: 'rows',
  outputElements: () => 1,
  work: { grad: true },
};
