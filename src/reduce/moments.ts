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
import type { PartialEntry } from './partials.ts';
import { takeFloat64 } from '../io/host-buffers.ts';

export type MomentsEntry = Extract<PartialEntry, { kind: 'moments' }>;

/** Columns per block: a block of every sample's values stays in cache across the two passes. */
const BLOCK = 1024;

/**
 * Moments over the n rows of `rows` ([n, *shape], row-major): mean = (1/n) Σ g_n, then
 * M2 = Σ (g_n − mean)² − (Σ (g_n − mean))²/n, all in float64 (the second term removes the mean's
 * own rounding error: Chan, Golub & LeVeque's corrected two-pass algorithm).
 */
export function momentsOfRows(rows: ArrayLike<number>, n: number, shape: number[]): MomentsEntry {
  const width = shape.reduce((a, b) => a * b, 1);
  if (rows.length !== n * width) throw new BackpackError(ErrorCode.Internal, `moments: ${rows.length} values are not ${n} rows of ${width}`, false);
  const data = takeFloat64(2 * width).fill(0);
  const mean = data.subarray(0, width);
  const m2 = data.subarray(width);
  const s1 = new Float64Array(Math.min(BLOCK, width));
  for (let j0 = 0; j0 < width; j0 += BLOCK) {
    const j1 = Math.min(width, j0 + BLOCK);
    for (let i = 0; i < n; i++) for (let j = j0, at = i * width + j0; j < j1; j++, at++) mean[j] += rows[at];
    for (let j = j0; j < j1; j++) mean[j] /= n;
    s1.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = j0, at = i * width + j0; j < j1; j++, at++) {
        const d = rows[at] - mean[j];
        s1[j - j0] += d;
        m2[j] += d * d;
      }
    }
    for (let j = j0; j < j1; j++) m2[j] -= (s1[j - j0] * s1[j - j0]) / n;
  }
  return { kind: 'moments', shape, count: n, data };
}

/**
 * Moments from sums around a shift s (computed where the tensors live): with S1 = Σ (g − s) and
 * S2 = Σ (g − s)² over n samples, mean = s + S1/n and M2 = S2 − S1²/n, in float64 — exact for any
 * s, and free of cancellation when s is near the mean (the corrected two-pass algorithm again).
 * `values` is [s; S1; S2], 3·|shape| numbers.
 */
export function momentsOfShifted(values: ArrayLike<number>, n: number, shape: number[]): MomentsEntry {
  const width = shape.reduce((a, b) => a * b, 1);
  if (values.length !== 3 * width) throw new BackpackError(ErrorCode.Internal, `moments: ${values.length} values are not 3 × ${width}`, false);
  const data = takeFloat64(2 * width);
  for (let j = 0; j < width; j++) {
    const s1 = values[width + j];
    data[j] = values[j] + s1 / n;
    data[width + j] = values[2 * width + j] - (s1 * s1) / n;
  }
  return { kind: 'moments', shape, count: n, data };
}

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
