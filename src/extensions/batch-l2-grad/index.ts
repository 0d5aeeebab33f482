/**
 * BatchL2Grad (`batch_l2`): ‖∇ℓ_n‖² per sample [n].
 * Linear without leading dims uses BackPACK's trick: ∇_W ℓ_n = g_n x_nᵀ is rank one, so
 * ‖g_n x_nᵀ‖² = ‖g_n‖²·‖x_n‖², and per-sample gradients are never materialised; other modules
 * square their Jacobians as they are made where they have a fused kernel (convolutions on native).
 */
import type { Tensor } from '../../core/tf.ts';
import type { Rule } from '../types.ts';

const rowSquares = (t: Tensor) => t.reshape([t.shape[0]!, -1]).square().sum(1);

const generic: Rule = (p) => [{ field: 'batch_l2', kind: 'rows', value: p.squares(p.sub().gOut.expandDims(0), 'norms', { sub: true }) }];

export const batchL2Grad: Rule = (p) => {
  const lead = (p.layer.cfg as { lead?: number }).lead;
  if (p.layer.kind !== 'Linear' || p.param !== 'weight' || lead !== 1) return generic(p);
  const { x, gOut } = p.sub();
  return [{ field: 'batch_l2', kind: 'rows', value: rowSquares(gOut).mul(rowSquares(x)) }];
};
