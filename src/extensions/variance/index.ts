/**
 * Variance (`variance`): BackPACK's (1/N)Σ_n (∇ℓ_n)² − ((1/N)Σ_n ∇ℓ_n)², with ∇ℓ_n the ρ-scaled
 * per-sample gradients, computed as (1/N)·Σ_n (∇ℓ_n − mean)². Shards return the moments of their
 * per-sample gradients (mean and centred second moment, float64, src/reduce/moments.ts); the
 * reducer merges them with Chan et al.'s pairwise update and divides once, after merging. The
 * difference of the two sums is never formed: it cancels when the variance ≪ mean².
 */
import { everyParametric } from '../shared/tables.ts';

/** The moments field, shared with GradientNoiseScale (one computation when both are requested). */
export const VARIANCE_MOMENTS = 'variance.moments';

export const variance = everyParametric((p) => [{ field: VARIANCE_MOMENTS, kind: 'moments', value: p.gradBatch() }]);
