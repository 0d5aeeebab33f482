/**
 * SumGradSquared (`sum_grad_squared`): Σ_n (∇ℓ_n)² elementwise [*θ].
 * Modules square their Jacobians without storing them where they can (Linear: (g²)ᵀ(x²), one matMul).
 */
import type { tf } from '../../core/tf.ts';
import type { ParamContext, Rule } from '../types.ts';

/** The statistic itself, shared with Variance. */
export function sumGradSquared(p: ParamContext): tf.Tensor {
  return p.memo('sum_grad_squared', () => {
    return p.squares(p.gOut.expandDims(0), 'sum');
  });
}

export const sumGradSquaredRules: Rule = (p) => [{ field: 'sum_grad_squared', kind: 'sum', value: sumGradSquared(p) }];
