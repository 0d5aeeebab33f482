/**
 * BatchL2Grad (`batch_l2`): ‖∇ℓ_n‖² per sample [n].
 * Linear without leading dims uses BackPACK's trick: ∇_W ℓ_n = g_n x_nᵀ is rank one, so
 * ‖g_n x_nᵀ‖² = ‖g_n‖²·‖x_n‖², and per-sample gradients are never materialised.
 */
import type { FirstOrderRule, RuleTable } from '../types.ts';

const rowSquares = (t: import('../../core/tf.ts').Tensor) => t.reshape([t.shape[0]!, -1]).square().sum(1);

const generic: FirstOrderRule = (p) => [{ field: 'batch_l2', kind: 'rows', value: rowSquares(p.gradBatchSub()) }];

const linear: FirstOrderRule = (p) => {
  const lead = (p.layer.cfg as { lead: number }).lead;
  if (p.param !== 'weight' || lead !== 1) return generic(p);
  const { x, gOut } = p.sub();
  return [{ field: 'batch_l2', kind: 'rows', value: rowSquares(gOut).mul(rowSquares(x)) }];
};

export const batchL2Grad = {
  Linear: linear,
  Conv1d: generic, Conv2d: generic, Conv3d: generic,
  ConvTranspose1d: generic, ConvTranspose2d: generic, ConvTranspose3d: generic,
  BatchNorm1d: generic, BatchNorm2d: generic, BatchNorm3d: generic,
} satisfies RuleTable;
