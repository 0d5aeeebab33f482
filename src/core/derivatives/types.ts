/**
 * The contract every module's math file fulfils (BackPACK's `core/derivatives`).
 * Index letters used in shape docs: v = stacked vectors, n = samples, o = output features,
 * i = input features, c = channels, k = kernel positions, p = spatial positions.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ModuleKind, ParamName } from '../../vocabulary.ts';
import type { LayerSpec, SpecOf } from '../../nn/spec.ts';
import type { SquaresMode } from '../ops/kernel-names.ts';

/** What a forward pass may depend on besides the input: only sample-keyed randomness. */
export interface ForwardContext {
  seed: number;
  /** Global sample index of each row of the batch, so randomness never depends on sharding. */
  sampleIndex: Int32Array;
}

/** A built layer: its spec, the shapes it was checked against, resolved config and tensors. */
export interface Layer<C = unknown> {
  /** Position in the network's topological order (a stable id, e.g. for randomness streams). */
  index: number;
  /** Prefix of its parameter names: the nn.Sequential position ("3" → "3.weight") or graph node name. */
  name: string;
  kind: ModuleKind;
  spec: LayerSpec;
  /** Input and output shape without the batch axis. */
  inShape: number[];
  outShape: number[];
  cfg: C;
  params: Partial<Record<ParamName, tf.Tensor>>;
  buffers: Record<string, tf.Tensor>;
  /** Tensors derived from the parameters once (e.g. a transposed weight), freed with the network. */
  derived: Map<string, tf.Tensor>;
}

export interface LayerSetup<C> {
  outShape: number[];
  cfg: C;
  /** Parameter shapes in PyTorch layout. */
  params: Partial<Record<ParamName, number[]>>;
  /** Non-trainable tensors read from the weights file (BatchNorm's running statistics). */
  buffers?: Record<string, number[]>;
  /** Smallest value a buffer may hold, checked when the weights are bound (a variance is ≥ 0). */
  bufferMin?: Record<string, number>;
}

/** Parameter Jacobianᵀ: V [v, n, *out] → [v, n, *θ], or [v, *θ] summed over n when `sumBatch`. */
export type ParamJacT<C> = (layer: Layer<C>, x: tf.Tensor, V: tf.Tensor, sumBatch: boolean) => tf.Tensor;

/**
 * Squares of the parameter Jacobianᵀ without materialising [v, n, *θ]: with J = J_θᵀ V − shift,
 * 'sum' → Σ_{v,n} J² [*θ], 'rows' → Σ_v J² per sample [n, *θ], 'norms' → Σ_{v,θ} J² [n].
 */
export type ParamSquares<C> = (layer: Layer<C>, x: tf.Tensor, V: tf.Tensor, mode: SquaresMode, shift?: tf.Tensor) => tf.Tensor | null;

export interface ModuleMath<K extends ModuleKind, C> {
  /** Checks the input shape (without n) and resolves the config; throws ShapeError/ModelSpecError. */
  setup(spec: SpecOf<K>, inShape: number[], where: string): LayerSetup<C>;
  /** x [n, *in] → [n, *out]. */
  forward(layer: Layer<C>, x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** Input Jacobianᵀ: V [v, n, *out] → [v, n, *in]; x and y are the stored input and output. */
  jacTMatProd(layer: Layer<C>, x: tf.Tensor, y: tf.Tensor, V: tf.Tensor): tf.Tensor;
  /** Present exactly for the parameters the module owns. */
  paramJacT?: Partial<Record<ParamName, ParamJacT<C>>>;
  /** A faster way to the squares of paramJacT where the module (on this backend) has one; null: compute them from paramJacT. */
  paramSquares?: Partial<Record<ParamName, ParamSquares<C>>>;
}
