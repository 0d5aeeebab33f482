/**
 * Variance (`variance`): BackPACK's (1/N)Σ_n (∇ℓ_n)² − ((1/N)Σ_n ∇ℓ_n)², with ∇ℓ_n the ρ-scaled
 * per-sample gradients, computed as (1/N)·Σ_n (∇ℓ_n − mean)² from each shard's centred moments
 * (shared/moments.ts), merged across shards and divided once, after merging. The difference of the
 * two sums is never formed: it cancels when the variance ≪ mean².
 */
import { momentsRule, VARIANCE_MOMENTS } from '../shared/moments.ts';
import type { Rule } from '../types.ts';

export { VARIANCE_MOMENTS };

export const variance: Rule = momentsRule;
