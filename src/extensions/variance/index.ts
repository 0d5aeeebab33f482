/**
 * Variance (`variance`): BackPACK's (1/N)Σ_n (∇ℓ_n)² − ((1/N)Σ_n ∇ℓ_n)², with ∇ℓ_n the ρ-scaled
 * per-sample gradients. Shards return Σ_n (∇ℓ_n)² (the sum Σ_n ∇ℓ_n is the gradient, always
 * returned); the reducer forms the difference once, after merging — never per shard.
 */
import { everyParametric } from '../shared/tables.ts';
import { sumGradSquared } from '../sum-grad-squared/index.ts';

export const VARIANCE_SUMSQ = 'variance.sumsq';

export const variance = everyParametric((p) => [{ field: VARIANCE_SUMSQ, kind: 'sum', value: sumGradSquared(p) }]);
