/**
 * What a first-order quantity sees at one parameter during extended backprop, and what it returns.
 * Index letters: n = samples (of the shard, or the subsampled rows), θ = the parameter's shape.
 */
import type { tf } from '../core/tf.ts';
import type { Layer } from '../core/derivatives/types.ts';
import type { ParametricKind, ParamName } from '../vocabulary.ts';

export interface ParamContext {
  layer: Layer;
  param: ParamName;
  /** The layer's input [n, *in] and the gradient of the (ρ-scaled) loss w.r.t. its output [n, *out]. */
  x: tf.Tensor;
  gOut: tf.Tensor;
  /** Per-sample gradients [n, *θ] of all the shard's samples (memoised: computed at most once). */
  gradBatch(): tf.Tensor;
  /** The same restricted to the subsampled rows, in `rows.local` order. */
  gradBatchSub(): tf.Tensor;
  /** Computes a value once per parameter, shared by every quantity that needs it. */
  memo(key: string, compute: () => tf.Tensor): tf.Tensor;
  /** x and gOut restricted to the subsampled rows (all rows when there is no subsampling). */
  sub(): { x: tf.Tensor; gOut: tf.Tensor };
}

/** A contribution to the shard's partials: summed over samples, or one row per (subsampled) sample. */
export type RuleOutput = { field: string; kind: 'sum' | 'rows'; value: tf.Tensor };

export type FirstOrderRule = (p: ParamContext) => RuleOutput[];

/** A quantity's rule table: one entry per module kind that has parameters (compiler-checked). */
export type RuleTable = Record<ParametricKind, FirstOrderRule>;
