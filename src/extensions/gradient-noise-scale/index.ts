/**
 * GradientNoiseScale (`gradient_noise_scale`, network-level): McCandlish et al. 2018's simple noise
 * scale B_simple = tr(Σ)/|G|². Shards return Σ_n (∇ℓ_n)² per parameter (shared with Variance and
 * SumGradSquared) besides the gradient; the reducer forms the unbiased small/large-batch estimator
 * with B_small = 1 (single samples) and B_big = N, once, over the whole batch.
 */
import { everyParametric } from '../shared/tables.ts';
import { sumGradSquared } from '../sum-grad-squared/index.ts';
import { VARIANCE_SUMSQ } from '../variance/index.ts';

export const gradientNoiseScale = everyParametric((p) => [{ field: VARIANCE_SUMSQ, kind: 'sum', value: sumGradSquared(p) }]);
