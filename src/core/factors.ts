/**
 * Backpropagated square-root factors (BackPACK's "backproped" quantities). A factor S [v, n, *out]
 * with a sign represents ±Σ_v S_v S_vᵀ per sample; moving it through a layer is a Jacobianᵀ
 * product. The exact Hessian also gains, at every layer whose record states a nonzero input
 * Hessian, the residual Σ_k g_k ∇²_x y_k, split into positive and negative square roots.
 */
import { tf } from './tf.ts';
import { mathOf } from './derivatives/index.ts';
import { inputHessianOf } from './capabilities.ts';
import type { Layer } from './derivatives/types.ts';
import { numel } from '../io/host-tensor.ts';
import type { Backprop, ModuleKind } from '../vocabulary.ts';

export interface Factor {
  S: tf.Tensor;
  sign: 1 | -1;
  /** Where the factor was born (the loss, or a layer's residual): copies meeting at a branch point are summed. */
  id: string;
}

export type Factors = Partial<Record<Exclude<Backprop, 'kfra'>, Factor[]>>;

/**
 * Whether the exact Hessian gains residual factors at a module of this kind (2 of them, numel(in)
 * columns each): asked of its record; a record that states nothing gains none here (the size
 * estimate), the backward pass then refuses it with a typed error.
 */
export function hasHessianResidual(kind: ModuleKind): boolean {
  const h = mathOf(kind).inputHessian;
  return h !== undefined && h.kind !== 'zero';
}

/**
 * R_n = S₊S₊ᵀ − S₋S₋ᵀ for the residual R_n = Σ_k g_k ∇²_x y_k of one layer, as two factors of D =
 * numel(in) columns. Diagonal R: S± = diag(√max(±r, 0)). Dense R (symmetric): S± = (c·I ± R/c)/2,
 * since (cI + R/c)² − (cI − R/c)² = 4R; c_n = √max|R_n| keeps both squares at R's scale, so the
 * c²I parts cancel without swamping R in float32.
 */
function residualFactors(layer: Layer, x: tf.Tensor, y: tf.Tensor, gOut: tf.Tensor, quantity: string): Factor[] {
  const h = inputHessianOf(layer, quantity);
  if (h.kind === 'zero') return [];
  const [n, ...inShape] = x.shape;
  const D = numel(inShape);
  const ids = [`residual:${layer.index}:+`, `residual:${layer.index}:-`];
  if (h.kind === 'diagonal') {
    const r = h.d2f(layer, x, y).mul(gOut); // [n, *in]
    const embed = (part: tf.Tensor) => tf.eye(D).reshape([D, 1, D]).mul(part.sqrt().reshape([1, n, D])).reshape([D, n, ...inShape]);
    return [
      { S: embed(tf.relu(r)), sign: 1, id: ids[0] },
      { S: embed(tf.relu(r.neg())), sign: -1, id: ids[1] },
    ];
  }
  const eye = tf.eye(D).reshape([D, 1, D]);
  const R = h.matProd(layer, x, y, gOut, eye.tile([1, n, 1]).reshape([D, n, ...inShape])).reshape([D, n, D]); // [k, n, :] = R_n e_k
  const scale = R.abs().max([0, 2]).sqrt();
  const c = tf.where(scale.greater(0), scale, tf.onesLike(scale)).reshape([1, n, 1]);
  const cI = eye.mul(c);
  const Rc = R.div(c);
  return [
    { S: cI.add(Rc).mul(0.5).reshape([D, n, ...inShape]), sign: 1, id: ids[0] },
    { S: cI.sub(Rc).mul(0.5).reshape([D, n, ...inShape]), sign: -1, id: ids[1] },
  ];
}

/**
 * Moves every factor from a layer's output to its input. `hessianQuantities` names the quantities
 * that asked for the Hessian factors, for the error when the layer cannot move them.
 */
export function propagateFactors(layer: Layer, x: tf.Tensor, y: tf.Tensor, gOut: tf.Tensor, factors: Factors, hessianQuantities = 'the exact Hessian'): Factors {
  const math = mathOf(layer.kind);
  const out: Factors = {};
  for (const [kind, list] of Object.entries(factors) as [keyof Factors, Factor[]][]) {
    out[kind] = list.map((f) => ({ ...f, S: math.jacTMatProd(layer, x, y, f.S) }));
    if (kind === 'hessian') out[kind]!.push(...residualFactors(layer, x, y, gOut, hessianQuantities));
  }
  return out;
}
