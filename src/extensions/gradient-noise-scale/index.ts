/**
 * GradientNoiseScale (`gradient_noise_scale`, network-level): McCandlish et al. 2018's simple noise
 * scale B_simple = tr(Σ)/|G|². Shards return the moments of their per-sample gradients per
 * parameter (mean and centred second moment: shared with Variance, shared/moments.ts) besides the
 * gradient; the reducer forms the unbiased small/large-batch estimator with B_small = 1 (single
 * samples) and B_big = N, once, over the whole batch. tr(Σ) comes from the centred moments
 * directly, so it keeps its digits when the noise is small next to the gradient.
 */
import { momentsRule } from '../shared/moments.ts';
import type { Rule } from '../types.ts';

export const gradientNoiseScale: Rule = momentsRule;
