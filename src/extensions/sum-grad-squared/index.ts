/**
 * SumGradSquared (`sum_grad_squared`): Σ_n (∇ℓ_n)² elementwise [*θ].
 * Modules square their Jacobians without storing them where they can (Linear: (g²)ᵀ(x²), one matMul).
 */
import { numel } from '../../io/host-tensor.ts';
import { fromSum } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.SumGradSquared;

export const sumGradSquared: Quantity = {
  name: 'SumGradSquared',
  savefield: field,
  backprops: [],
  rule: (p) => [{ field, kind: 'sum', value: p.memo(field, () => p.squares(p.gOut.expandDims(0), 'sum')) }],
  finalize: fromSum(field),
  combines: 'sum',
  outputElements: (theta) => numel(theta),
  work: { grad: true },
};
