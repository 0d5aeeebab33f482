/**
 * Backpropagated square-root factors (BackPACK's "backproped" quantities). A factor S [v, n, *out]
 * with a sign represents ±Σ_v S_v S_vᵀ per sample; moving it through a layer is a Jacobianᵀ
 * product. The exact Hessian also gains, at every layer with a nonzero second derivative,
 * the residual diag(f''(x) ⊙ g_out), split into positive and negative square roots.
 */
import { tf } from './tf.ts';
import { mathOf } from './derivatives/index.ts';
import { ACTIVATIONS, type ActivationKind } from './derivatives/elementwise.ts';
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

/** Activations whose second derivative vanishes everywhere they are differentiable. */
const PIECEWISE_LINEAR = new Set<string>(['ReLU', 'LeakyReLU']);

/** Whether the exact Hessian gains residual factors at this module (2 of them, numel(in) columns each). */
export function hasHessianResidual(kind: ModuleKind): boolean {
  return kind in ACTIVATIONS && !PIECEWISE_LINEAR.has(kind);
}

function residualFactors(layer: Layer, x: tf.Tensor, y: tf.Tensor, gOut: tf.Tensor): Factor[] {
  if (!hasHessianResidual(layer.kind)) return [];
  const fn = ACTIVATIONS[layer.kind as ActivationKind];
  const r = fn.d2f(x, y, layer.cfg as never).mul(gOut); // [n, *in]
  const [n, ...inShape] = r.shape;
  const D = numel(inShape);
  const embed = (part: tf.Tensor) => tf.eye(D).reshape([D, 1, D]).mul(part.sqrt().reshape([1, n, D])).reshape([D, n, ...inShape]);
  return [
    { S: embed(tf.relu(r)), sign: 1, id: `residual:${layer.index}:+` },
    { S: embed(tf.relu(r.neg())), sign: -1, id: `residual:${layer.index}:-` },
  ];
}

/** Moves every factor from a layer's output to its input. */
export function propagateFactors(layer: Layer, x: tf.Tensor, y: tf.Tensor, gOut: tf.Tensor, factors: Factors): Factors {
  const math = mathOf(layer.kind);
  const out: Factors = {};
  for (const [kind, list] of Object.entries(factors) as [keyof Factors, Factor[]][]) {
    out[kind] = list.map((f) => ({ ...f, S: math.jacTMatProd(layer, x, y, f.S) }));
    if (kind === 'hessian') out[kind]!.push(...residualFactors(layer, x, y, gOut));
  }
  return out;
}
