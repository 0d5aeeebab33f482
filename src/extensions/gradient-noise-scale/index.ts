/**
 * GradientNoiseScale (`gradient_noise_scale`, network-level): McCandlish et al. 2018's simple noise
 * scale B_simple = tr(Σ)/|G|². Shards return the moments of their per-sample gradients per
 * parameter (mean and centred second moment: shared with Variance, shared/moments.ts) besides the
 * gradient; the reducer forms the unbiased small/large-batch estimator with B_small = 1 (single
 * samples) and B_big = N, once, over the whole batch. tr(Σ) comes from the centred moments
 * directly, so it keeps its digits when the noise is small next to the gradient.
 */
import { numel } from '../../io/host-tensor.ts';
import { noiseScale, noParamResults } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { momentsRule, VARIANCE_MOMENTS } from '../shared/moments.ts';
import type { Quantity } from '../types.ts';

export const gradientNoiseScale: Quantity = {
  name: 'GradientNoiseScale',
  savefield: SAVEFIELDS.GradientNoiseScale,
  backprops: [],
  rule: momentsRule,
  finalize: noParamResults,
  finalizeNetwork: noiseScale(SAVEFIELDS.GradientNoiseScale, VARIANCE_MOMENTS),
  combines: 'moments, derived once',
  // Its partial is the moments of every parameter (three scalars result).
  outputElements: (theta) => numel(theta),
  work: { grad: true },
};
