/**
 * Elementwise activations y = f(x): the Jacobian is diagonal, Jᵀv = f'(x) ⊙ v.
 * Each entry gives f, f' and f'' (f'' is the residual term of the Hessian backprop).
 * Shapes: x, y [n, *]; V [v, n, *].
 */
import { tf } from '../tf.ts';
import type { SpecOf } from '../../nn/spec.ts';
import type { ModuleMath } from './types.ts';
import { hasKernel, runKernel } from '../ops/fused.ts';
import { MUL_STEP } from '../ops/kernel-names.ts';

export interface ElementwiseFn<S> {
  f(x: tf.Tensor, spec: S): tf.Tensor;
  /** f'(x) ⊙ V (V [..., *x.shape]) in one kernel where the backend has one; else null. */
  dfTimes?(x: tf.Tensor, V: tf.Tensor, spec: S): tf.Tensor | null;
  /** f'(x); y = f(x) is passed because several derivatives are cheapest from it. */
  df(x: tf.Tensor, y: tf.Tensor, spec: S): tf.Tensor;
  d2f(x: tf.Tensor, y: tf.Tensor, spec: S): tf.Tensor;
}

// SELU constants as in torch.nn.SELU (Klambauer et al. 2017).
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

// NOTE: step(x, α) = x > 0 ? 1 : α is one kernel, where greater(x, 0) + a cast (or a where) is
// two or three over tensors as large as the stacked factors.
const positive = (x: tf.Tensor) => tf.step(x, 0);
// NOTE: and V ⊙ step(x) is one kernel where two (Step, then Multiply) write and read a tensor as
// large as V: in 2c2d's gradient 2.4 ms against their 4.1 (bench/profile.ts, one thread).
const timesPositive = (x: tf.Tensor, V: tf.Tensor) => (hasKernel(MUL_STEP) ? runKernel(MUL_STEP, { V, x }, {}) : null);

export const ACTIVATIONS = {
  ReLU: {
    f: (x) => tf.relu(x),
    df: (x) => positive(x),
    dfTimes: timesPositive,
    d2f: (x) => tf.zerosLike(x),
  } satisfies ElementwiseFn<SpecOf<'ReLU'>>,
  Sigmoid: {
    f: (x) => tf.sigmoid(x),
    df: (_x, y) => y.mul(tf.scalar(1).sub(y)),
    d2f: (_x, y) => y.mul(tf.scalar(1).sub(y)).mul(tf.scalar(1).sub(y.mul(2))),
  } satisfies ElementwiseFn<SpecOf<'Sigmoid'>>,
  Tanh: {
    f: (x) => tf.tanh(x),
    df: (_x, y) => tf.scalar(1).sub(y.square()),
    d2f: (_x, y) => y.mul(-2).mul(tf.scalar(1).sub(y.square())),
  } satisfies ElementwiseFn<SpecOf<'Tanh'>>,
  LeakyReLU: {
    f: (x, s) => tf.leakyRelu(x, s.negative_slope),
    df: (x, _y, s) => tf.step(x, s.negative_slope),
    d2f: (x) => tf.zerosLike(x),
  } satisfies ElementwiseFn<SpecOf<'LeakyReLU'>>,
  ELU: {
    // alpha·(exp(x)−1) for x ≤ 0; torch's formula, not tf.elu (which fixes alpha = 1).
    f: (x, s) => tf.where(tf.greater(x, 0), x, tf.exp(x).sub(1).mul(s.alpha)),
    df: (x, _y, s) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.exp(x).mul(s.alpha)),
    d2f: (x, _y, s) => tf.where(tf.greater(x, 0), tf.zerosLike(x), tf.exp(x).mul(s.alpha)),
  } satisfies ElementwiseFn<SpecOf<'ELU'>>,
  SELU: {
    f: (x) => tf.where(tf.greater(x, 0), x.mul(SELU_SCALE), tf.exp(x).sub(1).mul(SELU_SCALE * SELU_ALPHA)),
    df: (x) => tf.where(tf.greater(x, 0), tf.fill(x.shape, SELU_SCALE), tf.exp(x).mul(SELU_SCALE * SELU_ALPHA)),
    d2f: (x) => tf.where(tf.greater(x, 0), tf.zerosLike(x), tf.exp(x).mul(SELU_SCALE * SELU_ALPHA)),
  } satisfies ElementwiseFn<SpecOf<'SELU'>>,
  LogSigmoid: {
    // log σ(x) = −softplus(−x), stable for large |x|.
    f: (x) => tf.softplus(x.neg()).neg(),
    df: (x) => tf.sigmoid(x.neg()),
    d2f: (x) => {
      const s = tf.sigmoid(x);
      return s.mul(tf.scalar(1).sub(s)).neg();
    },
  } satisfies ElementwiseFn<SpecOf<'LogSigmoid'>>,
};

export type ActivationKind = keyof typeof ACTIVATIONS;

/** Activations whose second derivative vanishes everywhere they are differentiable. */
const PIECEWISE_LINEAR = new Set<ActivationKind>(['ReLU', 'LeakyReLU']);

export function makeElementwise<K extends ActivationKind>(kind: K): ModuleMath<K, SpecOf<K>> {
  const fn = ACTIVATIONS[kind] as unknown as ElementwiseFn<SpecOf<K>>;
  return {
    setup: (spec, inShape) => ({ outShape: inShape, cfg: spec, params: {} }),
    forward: (layer, x) => fn.f(x, layer.cfg),
    jacTMatProd: (layer, x, y, V) => fn.dfTimes?.(x, V, layer.cfg) ?? V.mul(fn.df(x, y, layer.cfg).expandDims(0)),
    jvp: (layer, x, y, V) => fn.dfTimes?.(x, V, layer.cfg) ?? fn.df(x, y, layer.cfg).mul(V),
    inputHessian: PIECEWISE_LINEAR.has(kind) ? { kind: 'zero' } : { kind: 'diagonal', d2f: (layer, x, y) => fn.d2f(x, y, layer.cfg) },
    jacobianStructure: () => ({ kind: 'diagonal', df: (layer, x, y) => fn.df(x, y, layer.cfg) }),
  };
}
