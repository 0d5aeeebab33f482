/**
 * Float64 sum of equally long arrays, strictly in the given order: ((a₀ + a₁) + a₂) + …
 * Every exact reduction uses this order (global shard order), so results do not depend on how
 * shards were grouped over workers.
 */
export function sumInOrder(arrays: readonly ArrayLike<number>[], into?: Float64Array): Float64Array {
  const out = into ?? new Float64Array(arrays[0]?.length ?? 0);
  for (const a of arrays) for (let j = 0; j < out.length; j++) out[j] += a[j];
  return out;
}
