/**
 * Counter-based randomness: every number is a pure function of (seed, stream, global sample index,
 * draw index), never of the worker or shard that computes it, so any sharding gives the same
 * numbers and the same seed gives bitwise-identical results.
 * The mixer is the 32-bit finaliser of MurmurHash3 (Appleby), applied to a running combination.
 */

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a tuple of non-negative integers. */
export function hashTuple(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) h = fmix32((h ^ fmix32((p >>> 0) + 0x7f4a7c15)) + 0x165667b1);
  return h;
}

/** Uniform in (0, 1) for a tuple (24 bits of mantissa, never exactly 0 or 1). */
export function uniformAt(...parts: number[]): number {
  return ((hashTuple(...parts) >>> 8) + 0.5) / 16777216;
}

/** Well-known ids of the streams, so two users of randomness never share numbers. */
export const STREAM = { dropout: 1, mcLoss: 2, spectrumProbes: 3 } as const;

/**
 * `count` uniforms in (0, 1) for one sample (24 bits of mantissa, never exactly 0 or 1): u[j] mixes
 * j into the hash of (seed, stream, sub, sample), so it depends on nothing else (not the shard).
 * `sub` separates users within a stream (e.g. the layer index, or the MC sample index).
 */
export function sampleUniforms(seed: number, stream: number, sub: number, sample: number, count: number): Float32Array {
  const base = hashTuple(seed, stream, sub, sample);
  const out = new Float32Array(count);
  for (let j = 0; j < count; j++) out[j] = ((fmix32(base ^ fmix32(j + 0x27d4eb2d)) >>> 8) + 0.5) / 16777216;
  return out;
}
