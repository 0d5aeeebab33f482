/**
 * Mean and centred second moment (M2 = Σ_n (g_n − mean)²) of per-sample values, for Variance and
 * the gradient noise scale. Why not Σ g² − (Σ g)²/n: when the variance is much smaller than the
 * squared mean that difference cancels catastrophically (float32 sums of g² lost 1e-4…1e-3 of the
 * variance on small MLPs). Each shard computes its moments around its own mean where its tensors
 * live (extensions/shared/moments.ts), and shards are merged with the pairwise update of Chan, Golub &
 * LeVeque ("Algorithms for computing the sample variance: analysis and recommendations",
 * The American Statistician 37(3), 1983), in shard order: exact in exact arithmetic,
 * accurate to round-off of the variance itself, and bitwise reproducible for a fixed shard plan.
 */
import { BackpackError, ErrorCode } from '../errors/index.ts';
import type { MomentsEntry } from '../core/shard-moments.ts';
import { takeFloat64 } from '../io/host-buffers.ts';

export type { MomentsEntry } from '../core/shard-moments.ts';
export { momentsOfRows, momentsOfShifted } from '../core/shard-moments.ts';

/**
 * Adds `next` into `into` (both over disjoint samples), Chan, Golub & LeVeque's pairwise update:
 * with δ = mean_b − mean_a and n = n_a + n_b, mean = mean_a + δ·n_b/n and
 * M2 = M2_a + M2_b + δ²·n_a·n_b/n. Call in shard order for bitwise-reproducible results.
 */
export function mergeMoments(key: string, into: MomentsEntry, next: MomentsEntry): MomentsEntry {
  if (into.data.length !== next.data.length) throw new BackpackError(ErrorCode.Internal, `partial '${key}' changed size between shards`, false);
  const na = into.count;
  const nb = next.count;
  const n = na + nb;
  if (nb === 0) return into;
  if (na === 0) {
    into.data.set(next.data);
    into.count = nb;
    return into;
  }
  const width = into.data.length / 2;
  const { data } = into;
  const other = next.data;
  const wb = nb / n;
  const cross = (na * nb) / n;
  for (let j = 0; j < width; j++) {
    const delta = other[j] - data[j];
    data[j] += delta * wb;
    data[width + j] += other[width + j] + delta * delta * cross;
  }
  into.count = n;
  return into;
}

/** The mean and M2 halves of a moments entry. */
export function momentsParts(e: MomentsEntry): { mean: Float64Array; m2: Float64Array } {
  const width = e.data.length / 2;
  return { mean: e.data.subarray(0, width), m2: e.data.subarray(width) };
}
