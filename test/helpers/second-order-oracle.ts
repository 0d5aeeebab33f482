/**
 * Independent oracles for the second-order quantities, all by plain autodiff through the network's
 * forward functions (mathOf(kind).forward) — none of the hand-written Jacobians, loss factors or
 * residual terms under test is on these paths:
 *
 *  - per-sample output Jacobians J_n = ∂f_n/∂θ (one tf.grads per output component),
 *  - per-sample loss Hessians ∇²_f ℓ_n (double tf.grad of an oracle loss written from its definition),
 *  - per-sample parameter Hessian blocks ∇²_θ ρℓ_n (double tf.grad, one row per call),
 *  - KFRA's backward recursion from autodiff per-layer input Jacobians.
 *
 * Double gradients: tfjs's stock gradients of Exp, Tanh and Sigmoid read the op's *output*, which
 * the outer tape cannot differentiate (the second derivative then silently loses that term, or
 * tf.grad refuses). This module re-registers them in input-based form (mathematically the same
 * first derivative) and gives LogicalNot (inside Select's gradient) a zero gradient. Only test
 * processes that import this file are affected; src/ never calls tf.grad. The oracle is checked
 * against finite differences in diag-hessian.test.ts.
 *
 * All results are float64 arrays, row-major; a P×P block is `Float64Array(P*P)`.
 */
import './oracle.ts';
import { tf } from '../../src/core/tf.ts';
import { mathOf } from '../../src/core/derivatives/index.ts';
import type { ForwardContext, Layer } from '../../src/core/derivatives/types.ts';
import { sliceRows } from '../../src/core/inputs.ts';
import { numel, type HostTensor } from '../../src/io/host-tensor.ts';
import { LOSSES } from '../../src/nn/losses/index.ts';
import type { Network } from '../../src/nn/network.ts';
import type { LossKind, ParamName } from '../../src/vocabulary.ts';
import { f32, randn, type Rng, boundParams, forwardNodes, paramBinding } from './oracle.ts';

type GradFunc = (dy: tf.Tensor, x: tf.Tensor) => tf.Tensor;

function inputBasedGradient(kernelName: string, grad: GradFunc): void {
  tf.registerGradient({
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => grad(dy as tf.Tensor, saved[0]) }),
  });
}

inputBasedGradient('Exp', (dy, x) => dy.mul(tf.exp(x)));
inputBasedGradient('Tanh', (dy, x) => dy.mul(tf.scalar(1).sub(tf.tanh(x).square())));
inputBasedGradient('Sigmoid', (dy, x) => {
  const s = tf.sigmoid(x);
  return dy.mul(s.mul(tf.scalar(1).sub(s)));
});
inputBasedGradient('LogicalNot', (_dy, x) => tf.zerosLike(x).toFloat());

/** Where each of the network's parameters lives, and its current value. */
export interface Binding {
  names: string[];
  where: { name: string; param: ParamName }[];
  tensors: tf.Tensor[];
  sizes: number[];
}

export function bind(net: Network): Binding {
  const where = paramBinding(net);
  const tensors = where.map((w) => w.tensor);
  return { names: net.paramNames, where, tensors, sizes: tensors.map((t) => t.size) };
}

/** Layers [from, to) applied to h with the parameters ps (one per binding entry). */
export function forwardWith(net: Network, b: Binding, ps: tf.Tensor[], h: tf.Tensor, ctx: ForwardContext, from = 0, to = net.layers.length): tf.Tensor {
  // Graph models: the whole network through its nodes (layer ranges only make sense for chains).
  if (!net.sequential && from === 0 && to === net.layers.length) return forwardNodes(net, (layer) => boundParams(b.where, ps, layer), h, ctx);
  for (const layer of net.layers.slice(from, to)) h = mathOf(layer.kind).forward({ ...layer, params: boundParams(b.where, ps, layer) }, h, ctx);
  return h;
}

/**
 * ℓ(f, y) for one sample written from the definitions (not the library's loss code), with ops whose
 * tfjs gradients are themselves differentiable: CE = logsumexp(f) − f_y, MSE = Σ (f − y)²,
 * BCEWithLogits = Σ softplus(f) − f·y. Unscaled (no ρ). f [1, *out].
 */
export function oracleLoss(kind: LossKind, f: tf.Tensor, y: tf.Tensor): tf.Scalar {
  switch (kind) {
    case 'CrossEntropyLoss': {
      // One row per position (torch's K-dimensional form [1, C, d1, …]; one row for [1, C]).
      const C = f.shape[1]!;
      const logits = f.reshape([C, -1]).transpose();
      if (y.rank === 2) return tf.logSumExp(logits, 1).mul(y.sum(1)).sum().sub(logits.mul(y).sum()) as tf.Scalar;
      return tf.logSumExp(logits, 1).sum().sub(logits.mul(tf.oneHot(y as tf.Tensor1D, C)).sum()) as tf.Scalar;
    }
    case 'MSELoss':
      return f.sub(y).square().sum() as tf.Scalar;
    case 'BCEWithLogitsLoss':
      return tf.softplus(f).sub(f.mul(y)).sum() as tf.Scalar;
  }
}

/** One sample n as tensors: input [1, *in], targets as the library's loss validates them, forward context. */
export function sampleTensors(net: Network, inputs: HostTensor, targets: HostTensor, n: number, seed = 0) {
  const xs = sliceRows(inputs, n, 1);
  const x = tf.tensor(Float32Array.from(xs.data as ArrayLike<number>), xs.shape, 'float32');
  const y = LOSSES[net.loss.type].targets(sliceRows(targets, n, 1), net.outputShape, 'targets');
  const ctx: ForwardContext = { seed, sampleIndex: Int32Array.of(n) };
  return { x, y, ctx };
}

/** The unit vector e_k (float32) of length D, reshaped. */
export function basis(k: number, D: number, shape: number[]): tf.Tensor {
  const data = new Float32Array(D);
  data[k] = 1;
  return tf.tensor(data, shape, 'float32');
}

export const rhoOf = (net: Network, N: number) => LOSSES[net.loss.type].rho(net.loss.reduction, N, net.outputShape);

/** ∇²_f ℓ(f, y) at f [1, *out] by double autodiff, flattened [D, D] (unscaled). */
export function lossHessian(kind: LossKind, f: tf.Tensor, y: tf.Tensor): Float64Array {
  const D = f.size;
  const H = new Float64Array(D * D);
  const grad = tf.grad((t: tf.Tensor) => oracleLoss(kind, t, y));
  for (let k = 0; k < D; k++) {
    tf.tidy(() => {
      const e = basis(k, D, f.shape);
      const row = tf.grad((t: tf.Tensor) => grad(t).mul(e).sum())(f);
      H.set(Float64Array.from(row.dataSync()), k * D);
    });
  }
  return H;
}

/** What the GGN oracle knows about one sample: J_n per parameter [D, P] and ρ ∇²_f ℓ_n [D, D]. */
export interface SampleGGN {
  D: number;
  jac: Map<string, Float64Array>;
  /** ρ-scaled loss Hessian w.r.t. the network output, [D, D]. */
  H: Float64Array;
}

/** Per-sample Jacobians (reverse mode, one output component at a time) and loss Hessians. */
export function ggnOracle(net: Network, inputs: HostTensor, targets: HostTensor, seed = 0): SampleGGN[] {
  const N = inputs.shape[0];
  const rho = rhoOf(net, N);
  const b = bind(net);
  const D = numel(net.outputShape);
  const out: SampleGGN[] = [];
  for (let n = 0; n < N; n++) {
    tf.tidy(() => {
      const { x, y, ctx } = sampleTensors(net, inputs, targets, n, seed);
      const f = (...ps: tf.Tensor[]) => forwardWith(net, b, ps, x, ctx);
      const jac = new Map<string, Float64Array>(b.names.map((name, j) => [name, new Float64Array(D * b.sizes[j])]));
      const vjp = tf.grads(f);
      for (let k = 0; k < D; k++) {
        tf.tidy(() => {
          const e = basis(k, D, [1, ...net.outputShape]);
          vjp(b.tensors, e).forEach((g, j) => jac.get(b.names[j])!.set(Float64Array.from(g.dataSync()), k * b.sizes[j]));
        });
      }
      const H = lossHessian(net.loss.type, f(...b.tensors), y).map((v) => v * rho);
      out.push({ D, jac, H });
    });
  }
  return out;
}

/** J_pᵀ H J_p for one sample and parameter: [P, P]. */
export function ggnBlock(s: SampleGGN, param: string): Float64Array {
  const J = s.jac.get(param)!;
  const { D } = s;
  const P = J.length / D;
  const HJ = new Float64Array(D * P);
  for (let a = 0; a < D; a++) for (let c = 0; c < D; c++) {
    const h = s.H[a * D + c];
    if (h !== 0) for (let j = 0; j < P; j++) HJ[a * P + j] += h * J[c * P + j];
  }
  const G = new Float64Array(P * P);
  for (let a = 0; a < D; a++) for (let i = 0; i < P; i++) {
    const jai = J[a * P + i];
    if (jai !== 0) for (let j = 0; j < P; j++) G[i * P + j] += jai * HJ[a * P + j];
  }
  return G;
}

/**
 * Per-sample Hessian blocks ∇²_{θ_p} ρℓ_n by double autodiff: row j is the gradient of (∇_{θ_p} ρℓ_n)_j.
 * Returns param → one [P, P] block per sample.
 */
export function hessianOracle(net: Network, inputs: HostTensor, targets: HostTensor, params = net.paramNames, seed = 0): Map<string, Float64Array[]> {
  const N = inputs.shape[0];
  const rho = rhoOf(net, N);
  const b = bind(net);
  const out = new Map<string, Float64Array[]>(params.map((p) => [p, []]));
  for (let n = 0; n < N; n++) {
    tf.tidy(() => {
      const { x, y, ctx } = sampleTensors(net, inputs, targets, n, seed);
      for (const name of params) {
        const pi = b.names.indexOf(name);
        const P = b.sizes[pi];
        const objective = (t: tf.Tensor) => {
          const ps = b.tensors.map((u, j) => (j === pi ? t : u));
          return oracleLoss(net.loss.type, forwardWith(net, b, ps, x, ctx), y).mul(rho) as tf.Scalar;
        };
        const grad = tf.grad(objective);
        const block = new Float64Array(P * P);
        for (let j = 0; j < P; j++) {
          tf.tidy(() => {
            const e = basis(j, P, b.tensors[pi].shape);
            const row = tf.grad((t: tf.Tensor) => grad(t).mul(e).sum())(b.tensors[pi]);
            block.set(Float64Array.from(row.dataSync()), j * P);
          });
        }
        out.get(name)!.push(block);
      }
    });
  }
  return out;
}

/**
 * Central finite differences of the autodiff gradient (float32): entries (j, j) of ∇²_{θ_p} ρℓ_n for
 * the given flat indices j, summed over samples. Used only to check the double-grad oracle.
 */
export function finiteDifferenceDiag(net: Network, inputs: HostTensor, targets: HostTensor, param: string, indices: number[], h: number): Float64Array {
  const N = inputs.shape[0];
  const rho = rhoOf(net, N);
  const b = bind(net);
  const pi = b.names.indexOf(param);
  const base = Float32Array.from(b.tensors[pi].dataSync());
  const out = new Float64Array(indices.length);
  for (let n = 0; n < N; n++) {
    tf.tidy(() => {
      const { x, y, ctx } = sampleTensors(net, inputs, targets, n);
      const grad = tf.grad((t: tf.Tensor) => {
        const ps = b.tensors.map((u, j) => (j === pi ? t : u));
        return oracleLoss(net.loss.type, forwardWith(net, b, ps, x, ctx), y).mul(rho) as tf.Scalar;
      });
      indices.forEach((j, r) => {
        const at = (delta: number) => {
          const v = base.slice();
          v[j] += delta;
          return grad(tf.tensor(v, b.tensors[pi].shape)).dataSync()[j];
        };
        out[r] += (at(h) - at(-h)) / (2 * h);
      });
    });
  }
  return out;
}

/**
 * KFRA's recursion (Botev et al. 2017) with autodiff Jacobians: G = ρ Σ_n ∇²_f ℓ_n at the output,
 * B_i = G summed over the positions of a parametric layer's output, G_in = (1/N) Σ_n J_nᵀ G J_n
 * with J_n = ∂(layer output)/∂(layer input) of sample n. Returns layer index → B [C, C].
 */
export function kfraOracle(net: Network, inputs: HostTensor, targets: HostTensor): Map<number, Float64Array> {
  const N = inputs.shape[0];
  const rho = rhoOf(net, N);
  const b = bind(net);
  const L = net.layers.length;
  // acts[i][n]: input of layer i for sample n, [1, *in].
  const samples = Array.from({ length: N }, (_, n) => sampleTensors(net, inputs, targets, n));
  const acts: tf.Tensor[][] = [samples.map((s) => s.x)];
  for (let i = 0; i < L; i++) acts.push(samples.map((s, n) => forwardWith(net, b, b.tensors, acts[i][n], s.ctx, i, i + 1)));
  let D = numel(net.outputShape);
  let G = new Float64Array(D * D);
  samples.forEach((s, n) => lossHessian(net.loss.type, acts[L][n], s.y).forEach((v, j) => (G[j] += rho * v)));
  const out = new Map<number, Float64Array>();
  for (let i = L - 1; i >= 0; i--) {
    const layer = net.layers[i];
    if (Object.keys(layer.params).length > 0) {
      const C = layer.kind === 'Linear' ? layer.outShape[layer.outShape.length - 1] : layer.outShape[0];
      const P = D / C;
      const B = new Float64Array(C * C);
      // Linear: flat index = l·C + c; conv/BN: c·P + p.
      const ch = (flat: number) => (layer.kind === 'Linear' ? flat % C : Math.floor(flat / P));
      for (let a = 0; a < D; a++) for (let c = 0; c < D; c++) B[ch(a) * C + ch(c)] += G[a * D + c];
      out.set(i, B);
    }
    if (i === 0) break;
    const Din = numel(layer.inShape);
    const next = new Float64Array(Din * Din);
    for (let n = 0; n < N; n++) {
      const J = layerJacobian(net, b, i, acts[i][n], samples[n].ctx); // [D, Din]
      const GJ = new Float64Array(D * Din);
      for (let a = 0; a < D; a++) for (let c = 0; c < D; c++) {
        const g = G[a * D + c];
        if (g !== 0) for (let j = 0; j < Din; j++) GJ[a * Din + j] += g * J[c * Din + j];
      }
      for (let a = 0; a < D; a++) for (let r = 0; r < Din; r++) {
        const jar = J[a * Din + r];
        if (jar !== 0) for (let j = 0; j < Din; j++) next[r * Din + j] += (jar * GJ[a * Din + j]) / N;
      }
    }
    G = next;
    D = Din;
  }
  for (const a of acts.flat()) a.dispose();
  for (const s of samples) s.y.dispose();
  return out;
}

/** ∂(layer i output)/∂(layer i input) for one sample, [D_out, D_in], by reverse mode. */
function layerJacobian(net: Network, b: Binding, i: number, x: tf.Tensor, ctx: ForwardContext): Float64Array {
  const layer = net.layers[i];
  const Dout = numel(layer.outShape);
  const Din = numel(layer.inShape);
  const J = new Float64Array(Dout * Din);
  const vjp = tf.grad((t: tf.Tensor) => forwardWith(net, b, b.tensors, t, ctx, i, i + 1));
  for (let k = 0; k < Dout; k++) {
    tf.tidy(() => {
      const e = basis(k, Dout, [1, ...layer.outShape]);
      J.set(Float64Array.from(vjp(x, e).dataSync()), k * Din);
    });
  }
  return J;
}

// ---- small float64 linear algebra ----

export function sumAll(blocks: Float64Array[]): Float64Array {
  const out = new Float64Array(blocks[0].length);
  for (const b of blocks) b.forEach((v, j) => (out[j] += v));
  return out;
}

export function diagonal(M: Float64Array): Float64Array {
  const P = Math.round(Math.sqrt(M.length));
  return Float64Array.from({ length: P }, (_, i) => M[i * P + i]);
}

/** Rows of V [nV, P] multiplied by the symmetric M [P, P]: [nV, P]. */
export function timesVectors(M: Float64Array, V: ArrayLike<number>): Float64Array {
  const P = Math.round(Math.sqrt(M.length));
  const nV = V.length / P;
  const out = new Float64Array(nV * P);
  for (let v = 0; v < nV; v++) for (let i = 0; i < P; i++) {
    let s = 0;
    for (let j = 0; j < P; j++) s += M[i * P + j] * V[v * P + j];
    out[v * P + i] = s;
  }
  return out;
}

/** Σ_c q_c q_cᵀ for rows q_c (each P long) taken at stride: out [P, P]. */
export function outerSum(rows: Float64Array[]): Float64Array {
  const P = rows[0].length;
  const out = new Float64Array(P * P);
  for (const q of rows) for (let i = 0; i < P; i++) if (q[i] !== 0) for (let j = 0; j < P; j++) out[i * P + j] += q[i] * q[j];
  return out;
}

/** Random vectors [V, *θ] for every parameter, for GGNMP/HMP. */
export function randomVectors(net: Network, V: number, rng: Rng): Map<string, HostTensor> {
  return new Map(net.paramNames.map((p) => {
    const shape = [V, ...net.paramShapes[p]];
    return [p, f32(shape, randn(rng, numel(shape)))];
  }));
}
