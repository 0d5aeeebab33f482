/**
 * Partial results: what one shard returns, and the types that name a shard on its way through
 * (docs/decisions.md: "a shard's types"). Sufficient statistics, never finished answers:
 * sums over the shard's samples (combined by addition), moments (mean and centred second moment,
 * combined by Chan et al.'s pairwise update) and per-sample rows (combined by concatenation in
 * global sample order). The batch loss is a sum of per-shard ρ·Σℓ_n too.
 */

export type PartialEntry =
  /** Σ over the shard's samples, accumulated across shards in float64. */
  | { kind: 'sum'; shape: number[]; data: Float64Array }
  /** One row per sample; `index` holds each row's global sample index. */
  | { kind: 'rows'; rowShape: number[]; index: Int32Array; data: Float32Array }
  /** Rows written to spill files as shards arrived (streaming mode): never held in memory. */
  | { kind: 'spilled'; rowShape: number[]; chunks: SpillChunk[] }
  /**
   * Moments of per-sample values over `count` samples, in float64: data = [mean, M2] (each of
   * the shape's size), M2 = Σ_n (g_n − mean)². Merged by Chan, Golub & LeVeque's pairwise update
   * (moments.ts), not by addition: Variance and GradientNoiseScale.
   */
  | { kind: 'moments'; shape: number[]; count: number; data: Float64Array };

/** One shard's rows of one key in a spill file: row i of `index` starts at byteOffset + i·width·4. */
export interface SpillChunk {
  file: string;
  byteOffset: number;
  index: Int32Array;
}

/** Samples [offset, offset + count) of a batch, by global sample index. */
export interface SampleRange {
  offset: number;
  count: number;
}

/** One shard of a job's plan: its place in shard order (the order partials are added in) and its samples. */
export interface ShardSpec extends SampleRange {
  shardId: number;
}

/** Partials over `count` samples: one shard's, or any number of shards' merged (reduce/merge.ts). */
export interface Partials {
  /** Samples covered. */
  count: number;
  /** ρ·Σ_n ℓ_n over those samples (ρ from the global batch size). */
  loss: number;
  /** Keyed `<param>.<field>` (e.g. "0.weight.grad", "0.weight.variance.moments"). */
  entries: Record<string, PartialEntry>;
}

/** What one shard returns: its partials and which shard it was. */
export interface ShardPartials extends ShardSpec, Partials {}
