/**
 * What a quantity sees at one parameter during extended backprop, and what it returns.
 * Index letters: v = stacked vectors (classes or MC samples), n = samples (of the shard, or the
 * subsampled rows), θ = the parameter's shape.
 */
import type { tf } from '../core/tf.ts';
import type { Layer } from '../core/derivatives/types.ts';
import type { Factor, Factors } from '../core/factors.ts';
import type { SquaresMode } from '../core/ops/kernel-names.ts';
import type { Capability } from '../core/capabilities.ts';
import type { Finalizer, NetworkFinalizer } from '../reduce/finalizers.ts';
import type { Backprop, ExtensionName, ParamName } from '../vocabulary.ts';

export interface ParamContext {
  layer: Layer;
  param: ParamName;
  /** The layer's input [n, *in] and the gradient of the (ρ-scaled) loss w.r.t. its output [n, *out]. */
  x: tf.Tensor;
  gOut: tf.Tensor;
  /** Key of the parameter in results, e.g. "3.weight". */
  key: string;
  /** Per-sample gradients [n, *θ] of all the shard's samples (memoised: computed at most once). */
  gradBatch(): tf.Tensor;
  /** Σ_n of the per-sample gradients: the shard's gradient [*θ] (memoised). */
  gradSum(): tf.Tensor;
  /** The same restricted to the subsampled rows, in `rows.local` order. */
  gradBatchSub(): tf.Tensor;
  /** Computes a value once per parameter, shared by every quantity that needs it. */
  memo(key: string, compute: () => tf.Tensor): tf.Tensor;
  /** x and gOut restricted to the subsampled rows (all rows when there is no subsampling). */
  sub(): { x: tf.Tensor; gOut: tf.Tensor };
  /** Restricts a tensor's sample axis (`axis`) to the subsampled rows. */
  subRows(t: tf.Tensor, axis: number): tf.Tensor;
  /** Backpropagated factors w.r.t. the layer output, [v, n, *out] each (already √ρ-scaled). */
  factors: Factors;
  /** J_θᵀ S for one factor: [v, n, *θ] (memoised per factor). */
  paramSqrt(f: Factor): tf.Tensor;
  /**
   * Squares of J_θᵀ V for V [v, n, *out] (minus `shift`), summed per mode: 'sum' [*θ], 'rows' [n, *θ],
   * 'norms' [n] — without materialising J_θᵀ V where the module has a fused kernel. With `sub`,
   * V holds the subsampled rows only (and x is restricted alike).
   */
  squares(V: tf.Tensor, mode: SquaresMode, opts?: { sub?: boolean; shift?: tf.Tensor }): tf.Tensor;
  /** Vectors [V, *θ] for curvature-matrix products, when the job has them. */
  vectors?: tf.Tensor;
}

/**
 * A contribution to the shard's partials: summed over samples, one row per (subsampled) sample, or
 * 'moments' of a per-sample value over every shard sample (shared/moments.ts): as the per-sample
 * values [n, *θ] ('rows'), or as sums around a shift [s; Σ(g − s); Σ(g − s)²] ('shifted').
 * `gradients`: the values are the parameter's per-sample gradients, so mean × count is the shard's
 * gradient, and the engine takes it from there instead of computing it again.
 */
export type RuleOutput =
  | { field: string; kind: 'sum' | 'rows'; value: tf.Tensor }
  | { field: string; kind: 'moments'; form: 'rows' | 'shifted'; value: tf.Tensor; gradients?: boolean };

export type Rule = (p: ParamContext) => RuleOutput[];

/** What a quantity needs of the module records (checked before a job runs: extensions/support.ts). */
export interface Needs {
  /** Capabilities of the parametric layer itself. */
  own?: Capability[];
  /** Capabilities of every layer after it on the way to the loss (its backward pass crosses them). */
  after?: Capability[];
}

/** Sizes a quantity's outputs depend on besides θ: network outputs (C), MC samples (M), vectors (V). */
export interface OutputSizes {
  classes: number;
  mc: number;
  vectors: number;
}

/**
 * The per-sample parameter work at a parametric layer, for the memory estimate (nn/size-estimate.ts):
 * the per-sample gradient [n, *θ] ('grad'), or J_θᵀS [v, n, *θ] for a factor — `always` for square
 * roots and products, else only where the module has no fused squares (a Linear weight squares S
 * and x separately); null for quantities that make neither (Kronecker factors).
 */
export type ParamWork = { grad: true } | { factor: Exclude<Backprop, 'kfra'>; always: boolean } | null;

/**
 * One quantity, everything about it in one record (its folder's index.ts), collected in one table
 * (extensions/index.ts): a new quantity is one file and one line there (and its name and savefield
 * in vocabulary.ts, the names every message and file uses).
 */
export interface Quantity {
  name: ExtensionName;
  /** Output key suffix: `<param>.<savefield>` (vocabulary's SAVEFIELDS). */
  savefield: string;
  /** What it needs backpropagated besides the gradient. */
  backprops: Backprop[];
  /** Its partials at one parameter of one shard. */
  rule: Rule;
  /** Capabilities it needs of the module records; none beyond the Jacobians when absent. */
  needs?: Needs;
  /** Merged partials → its results at one parameter (reduce/finalizers.ts). */
  finalize: Finalizer;
  /** Results of the whole network rather than of one parameter. */
  finalizeNetwork?: NetworkFinalizer;
  /** How its partials combine across shards (documented in summary readers and the README). */
  combines: 'sum' | 'rows' | 'moments, derived once' | 'collective per layer';
  /** float32 elements it outputs for one parameter θ, per sample for 'rows': the one size estimate's input. */
  outputElements(theta: number[], sizes: OutputSizes): number;
  work: ParamWork;
}
