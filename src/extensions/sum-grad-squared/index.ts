/**
 * SumGradSquared (`sum_grad_squared`): Σ_n (∇ℓ_n)² elementwise [*θ].
 * Linear without leading dims: Σ_n (g_n x_nᵀ)² = (g²)ᵀ (x²), one matMul, no per-sample gradients.
 */
import type { tf } from '../../core/tf.ts';
import { matMulT } from '../../core/ops/matmul.ts';
import type { ParamContext, Rule } from '../types.ts';

/** The statistic itself, shared with Variance. */
export function sumGradSquared(p: ParamContext): tf.Tensor {
  return p.memo('sum_grad_squared', () => {
    const lead = (p.layer.cfg as { lead?: number }).lead;
    if (p.layer.kind === 'Linear' && p.param === 'weight' && lead === 1) {
      return matMulT(p.gOut.square(), p.x.square(), true, false);
    }
    return p.squares(p.gOut.expandDims(0), 'sum');
  });
}

export const sumGradSquaredRules: Rule = (p) => [{ field: 'sum_grad_squared', kind: 'sum', value: sumGradSquared(p) }];
