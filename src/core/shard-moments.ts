/**
 * A shard's moments of its per-sample values (mean and centred second moment, in float64), the
 * partial entries Variance and the gradient noise scale send; reduce/moments.ts merges them across
 * shards (Chan, Golub & LeVeque's pairwise update), where the method and its reasons are described.
 */
import { BackpackError, ErrorCode } from '../errors/index.ts';
import { takeFloat64 } from '../io/host-buffers.ts';
import { shiftedMomentsInto } from '../io/host-loops.ts';
import type { PartialEntry } from './partials.ts';

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
  shiftedMomentsInto(data, values, n);
  return { kind: 'moments', shape, count: n, data };
}

