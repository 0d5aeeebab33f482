/**
 * Variance (`variance`): BackPACK's (1/N)Σ_n (∇ℓ_n)² − ((1/N)Σ_n ∇ℓ_n)², with ∇ℓ_n the ρ-scaled
 * per-sample gradients, computed as (1/N)·Σ_n (∇ℓ_n − mean)² from each shard's centred moments
 * (shared/moments.ts), merged across shards and divided once, after merging. The difference of the
 * two sums is never formed: it cancels when the variance ≪ mean².
 */
import { numel } from '../../io/host-tensor.ts';
import { varianceOf } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { momentsRule, VARIANCE_MOMENTS } from '../shared/moments.ts';
import type { Quantity } from '../types.ts';

export const variance: Quantity = {
  name: 'Variance',
  savefield: SAVEFIELDS.Variance,
  backprops: [],
  rule: momentsRule,
  finalize: varianceOf(SAVEFIELDS.Variance, VARIANCE_MOMENTS),
  combines: 'moments, derived once',
  outputElements: (theta) => numel(theta),
  work: { grad: true },
};
