/**
 * Partial results: what one shard returns. Sufficient statistics, never finished answers:
 * sums over the shard's samples (combined by addition) and per-sample rows (combined by
 * concatenation in global sample order). The batch loss is a sum of per-shard ρ·Σℓ_n too.
 */

export type PartialEntry =
  /** Σ over the shard's samples, accumulated across shards in float64. */
  | { kind: 'sum'; shape: number[]; data: Float64Array }
  /** One row per sample; `index` holds each row's global sample index. */
  | { kind: 'rows'; rowShape: number[]; index: Int32Array; data: Float32Array }
  /** Rows written to spill files as shards arrived (streaming mode): never held in memory. */
  | { kind: 'spilled'; rowShape: number[]; chunks: SpillChunk[] };

/** One shard's rows of one key in a spill file: row i of `index` starts at byteOffset + i·width·4. */
export interface SpillChunk {
  file: string;
  byteOffset: number;
  index: Int32Array;
}

export interface ShardPartials {
  shardId: number;
  /** Global index of the shard's first sample, and its number of samples. */
  offset: number;
  count: number;
  /** ρ·Σ_n ℓ_n over the shard's samples (ρ from the global batch size). */
  loss: number;
  /** Keyed `<param>.<field>` (e.g. "0.weight.grad", "0.weight.variance.sumsq"). */
  entries: Record<string, PartialEntry>;
}
