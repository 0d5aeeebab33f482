/**
 * BatchL2Grad (`batch_l2`): ‖∇ℓ_n‖² per sample [n].
 * Modules square their Jacobians without storing them where they can: Linear by BackPACK's
 * rank-one identity ‖g_n x_nᵀ‖² = ‖g_n‖²·‖x_n‖², convolutions by a fused kernel on native.
 */
import type { Rule } from '../types.ts';

export const batchL2Grad: Rule = (p) => [{ field: 'batch_l2', kind: 'rows', value: p.squares(p.sub().gOut.expandDims(0), 'norms', { sub: true }) }];
