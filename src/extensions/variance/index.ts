/**
 * Variance (`variance`): BackPACK's (1/N)Σ_n (∇ℓ_n)² − ((1/N)Σ_n ∇ℓ_n)², with ∇ℓ_n the ρ-scaled
 * per-sample gradients. Shards return Σ_n (∇ℓ_n)² (the sum Σ_n ∇ℓ_n is the gradient, always
 * returned); the reducer forms the difference once, after merging — never per shard.
 */
import type { FirstOrderRule, RuleTable } from '../types.ts';
import { sumGradSquared } from '../sum-grad-squared/index.ts';

export const VARIANCE_SUMSQ = 'variance.sumsq';

const rule: FirstOrderRule = (p) => [{ field: VARIANCE_SUMSQ, kind: 'sum', value: sumGradSquared(p) }];

export const variance = {
  Linear: rule,
  Conv1d: rule, Conv2d: rule, Conv3d: rule,
  ConvTranspose1d: rule, ConvTranspose2d: rule, ConvTranspose3d: rule,
  BatchNorm1d: rule, BatchNorm2d: rule, BatchNorm3d: rule,
} satisfies RuleTable;
