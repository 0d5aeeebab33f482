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
 * paramJacT's per-sample rows [v, n, *θ] and their sum over the batch [v, *θ] in one pass, where the
 * module (on this backend) has a kernel for it; null: paramJacT twice.
 */
export type ParamJacTWithSum<C> = (layer: Layer<C>, x: tf.Tensor, V: tf.Tensor) => [rows: tf.Tensor, sum: tf.Tensor] | null;

/**
 * Squares of the parameter Jacobianᵀ without materialising [v, n, *θ]: with J = J_θᵀ V − shift,
 * 'sum' → Σ_{v,n} J² [*θ], 'rows' → Σ_v J² per sample [n, *θ], 'norms' → Σ_{v,θ} J² [n].
 */
export type ParamSquares<C> = (layer: Layer<C>, x: tf.Tensor, V: tf.Tensor, mode: SquaresMode, shift?: tf.Tensor) => tf.Tensor | null;

/**
 * The input Hessian a module contributes to exact-Hessian backprop: the "residual"
 * R_n = Σ_k g_{n,k} ∇²_x y_{n,k} (g the gradient w.r.t. the output). Stated by every module that
 * Hessian quantities pass through, never assumed:
 * - 'zero': y is linear (or piecewise linear) in x, so R = 0;
 * - 'diagonal': y is elementwise, R_n = diag(f''(x_n) ⊙ g_n); `d2f` gives f''(x) [n, *in];
 * - 'dense': anything else; `matProd` applies R_n to V [v, n, *in] → [v, n, *in] (R_n symmetric).
 */
export type InputHessian<C> =
  | { kind: 'zero' }
  | { kind: 'diagonal'; d2f(layer: Layer<C>, x: tf.Tensor, y: tf.Tensor): tf.Tensor }
  | { kind: 'dense'; matProd(layer: Layer<C>, x: tf.Tensor, y: tf.Tensor, gOut: tf.Tensor, V: tf.Tensor): tf.Tensor };

/**
 * How the input Jacobian varies over samples (KFRA's recursion, and where it must all-reduce):
 * 'shared' J_n = J for every n; 'diagonal' J_n = diag(df(x_n)), `df` [n, *in]; 'per-sample' otherwise.
 */
export type JacobianStructure<C> =
  | { kind: 'shared' }
  | { kind: 'diagonal'; df(layer: Layer<C>, x: tf.Tensor, y: tf.Tensor): tf.Tensor }
  | { kind: 'per-sample' };

/**
 * Kronecker factorisation of a parametric module (KFAC, KFLR, KFRA): weight ≈ B ⊗ A, bias ≈ B.
 * `outputAxis` says where B's index sits in the output: 'last' (Linear: [*l, o], summed over l) or
 * 'channel' (channels-first: [c, *sp], summed over sp). `inputFactorSum` is A's partial Σ_n (unfolded)
 * x xᵀ. A module (or a config, e.g. groups > 1) without one states `refused` with the reason.
 */
export type Kronecker<C> =
  | { outputAxis: 'last' | 'channel'; inputFactorSum(layer: Layer<C>, x: tf.Tensor): tf.Tensor }
  | { refused: string };

/**
 * What the full-network Hessian-vector product (core/curvature-products.ts) needs beyond the
 * Jacobians: how the Jacobians themselves move, i.e. the mixed second derivative ∂²y/∂x∂θ.
 */
export interface MixedSecondDerivative<C> {
  /** d/dt J_θᵀ(x + t·dx) V per parameter: V [v, n, *out] → [v, *θ] (summed over n). */
  paramJacTAlongInput: Partial<Record<ParamName, (layer: Layer<C>, x: tf.Tensor, dx: tf.Tensor, V: tf.Tensor) => tf.Tensor>>;
  /** d/dt J_xᵀ(θ + t·v) V: V [v, n, *out] → [v, n, *in], for parameter directions v (missing = 0). */
  inputJacTAlongParams(layer: Layer<C>, x: tf.Tensor, y: tf.Tensor, V: tf.Tensor, v: Layer<C>['params']): tf.Tensor;
}

/**
 * A module's record: the only place that knows the module. Optional fields are capabilities that
 * some quantities need; the engine asks for them through core/capabilities.ts, which throws a typed
 * UnsupportedModuleError naming the module and the quantity when one is not stated (no defaults).
 */
export interface ModuleMath<K extends ModuleKind, C> {
  /** Checks the input shape (without n) and resolves the config; throws ShapeError/ModelSpecError. */
  setup(spec: SpecOf<K>, inShape: number[], where: string): LayerSetup<C>;
  /** x [n, *in] → [n, *out]. */
  forward(layer: Layer<C>, x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** Input Jacobianᵀ: V [v, n, *out] → [v, n, *in]; x and y are the stored input and output. */
  jacTMatProd(layer: Layer<C>, x: tf.Tensor, y: tf.Tensor, V: tf.Tensor): tf.Tensor;
  /** Present exactly for the parameters the module owns. */
  paramJacT?: Partial<Record<ParamName, ParamJacT<C>>>;
  /** BatchGrad's rows and the gradient in one pass where the module (on this backend) has one. */
  paramJacTWithSum?: Partial<Record<ParamName, ParamJacTWithSum<C>>>;
  /** A faster way to the squares of paramJacT where the module (on this backend) has one; null: compute them from paramJacT. */
  paramSquares?: Partial<Record<ParamName, ParamSquares<C>>>;
  /** Input Jacobian (forward mode): V [n, *in] → [n, *out]. Curvature-vector products. */
  jvp?(layer: Layer<C>, x: tf.Tensor, y: tf.Tensor, V: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** Parameter Jacobian (forward mode) for directions v (missing = 0): [n, *out]. Curvature-vector products. */
  paramJvp?(layer: Layer<C>, x: tf.Tensor, v: Layer<C>['params'], ctx: ForwardContext): tf.Tensor;
  /** Second derivative w.r.t. the input: DiagHessian, BatchDiagHessian, HMP, Hessian-vector products. */
  inputHessian?: InputHessian<C>;
  /** Mixed second derivative (parametric modules): Hessian-vector products. */
  mixed?: MixedSecondDerivative<C>;
  /** Sample-dependence of the input Jacobian: KFRA. A function of the layer (Dropout: train or eval). */
  jacobianStructure?(layer: Layer<C>): JacobianStructure<C>;
  /** Kronecker factors (parametric modules): KFAC, KFLR, KFRA. */
  kronecker?(layer: Layer<C>): Kronecker<C>;
}
