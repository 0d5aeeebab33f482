/**
 * KFRA's backward pass (Botev et al. 2017): a [D, D] matrix G, the batch-averaged GGN w.r.t. a
 * layer's output, moves to the layer's input as G_in = (1/N) Σ_n J_nᵀ G J_n. The average runs over
 * the *whole* batch, so this is a collective: every shard contributes Σ_{n in shard} J_nᵀ G J_n, the
 * coordinator adds them, divides by N and hands G_in back for the next layer.
 * Shapes: G [D_out, D_out] with D = Π of a layer's per-sample shape.
 */
import { tf } from './tf.ts';
import { capabilityGap, jacobianStructureOf, kroneckerOf } from './capabilities.ts';
import { skipKey } from '../extensions/support.ts';
import { mathOf } from './derivatives/index.ts';
import type { Layer } from './derivatives/types.ts';
import type { ShardState } from './forward.ts';
import { numel } from '../io/host-tensor.ts';
import { sumInOrder } from './sum-in-order.ts';

const structureOf = (layer: Layer) => jacobianStructureOf(layer, 'KFRA');

/** Jᵀ M J for a sample-independent Jacobian, by applying Jᵀ to M's rows and then to the result's. */
function sandwich(layer: Layer, x: tf.Tensor, y: tf.Tensor, G: tf.Tensor): tf.Tensor {
  const math = mathOf(layer.kind);
  const dOut = G.shape[0]!;
  const dIn = numel(layer.inShape);
  const x1 = x.slice(0, 1);
  const y1 = y.slice(0, 1);
  const left = math.jacTMatProd(layer, x1, y1, G.reshape([dOut, 1, ...layer.outShape])).reshape([dOut, dIn]);
  const both = math.jacTMatProd(layer, x1, y1, left.transpose().reshape([dIn, 1, ...layer.outShape])).reshape([dIn, dIn]);
  return both.transpose();
}

/** Σ_n J_nᵀ G J_n over one shard's samples. */
export function eaJacTMatJacProdSum(layer: Layer, x: tf.Tensor, y: tf.Tensor, G: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const n = x.shape[0]!;
    const structure = structureOf(layer);
    if (structure.kind === 'shared') return sandwich(layer, x, y, G).mul(n);
    if (structure.kind === 'diagonal') {
      // J_n = diag(d_n): Σ_n J_nᵀ G J_n = (Dᵀ D) ⊙ G with D [n, D] the derivatives.
      const d = structure.df(layer, x, y).reshape([n, -1]);
      return tf.matMul(d.transpose(), d).mul(G);
    }
    // Generic: apply each sample's Jᵀ to G's rows, transpose, apply again, sum over samples.
    const math = mathOf(layer.kind);
    const dOut = G.shape[0]!;
    const dIn = numel(layer.inShape);
    const rows = G.reshape([dOut, 1, ...layer.outShape]).tile([1, n, ...layer.outShape.map(() => 1)]);
    const left = math.jacTMatProd(layer, x, y, rows).reshape([dOut, n, dIn]); // [o, n, i]
    const turned = left.transpose([2, 1, 0]).reshape([dIn, n, ...layer.outShape]);
    return math.jacTMatProd(layer, x, y, turned).reshape([dIn, n, dIn]).sum(1).transpose();
  });
}

/** KFRA's B for a parametric layer: G summed over spatial positions / leading dims on both sides. */
export function kfraOutputFactor(layer: Layer, G: tf.Tensor): tf.Tensor {
  const { outputAxis } = kroneckerOf(layer, 'KFRA');
  return tf.tidy(() => {
    if (outputAxis === 'last') {
      const O = layer.outShape[layer.outShape.length - 1];
      const L = numel(layer.outShape) / O;
      return G.reshape([L, O, L, O]).sum([0, 2]);
    }
    const C = layer.outShape[0];
    const P = numel(layer.outShape) / C;
    return G.reshape([C, P, C, P]).sum([1, 3]);
  });
}

const toTensor = (data: Float64Array, d: number) => tf.tensor2d(new Float32Array(data), [d, d]);

/**
 * KFRA's backward pass over the shards this worker holds, as a program that yields its local
 * [D, D] contribution whenever the whole batch must be summed (the loss, and every layer whose
 * Jacobian depends on the sample) and resumes with the sum over all shard groups. Layers with a
 * sample-independent Jacobian need no communication: every group computes the same Jᵀ G J.
 * Drive it with `runKfraSync` (all shards local) or `runKfraAsync` (an all-reduce across workers).
 * Returns B per parametric layer index.
 */
export function* kfraProgram(layers: Layer[], states: ShardState[], N: number): Generator<Float64Array[], Map<number, Float64Array>, Float64Array> {
  const out = new Map<number, Float64Array>();
  const skip = states[0]?.req.skip;
  // One contribution per shard: the all-reduce adds them in global shard order, in float64, so
  // the result is bitwise the same however the shards are spread over workers.
  const local = (fn: (s: ShardState) => tf.Tensor) =>
    states.map((s) => {
      const t = tf.tidy(() => fn(s));
      const data = new Float64Array(t.dataSync());
      t.dispose();
      return data;
    });
  const dLoss = numel(layers[layers.length - 1].outShape);
  let G: tf.Tensor = toTensor(yield local((s) => s.loss.sumHessian(s.acts[s.acts.length - 1]).mul(s.rho)), dLoss);
  try {
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i];
      if (Object.keys(layer.params).length > 0 && !skip?.includes(skipKey(layer.name, 'KFRA'))) {
        const B = kfraOutputFactor(layer, G);
        out.set(i, new Float64Array(B.dataSync()));
        B.dispose();
      }
      // Skipping: a layer without a stated Jacobian structure ends the recursion (the layers before it are skipped).
      if (i === 0 || (skip && capabilityGap(layer, 'jacobianStructure'))) break;
      let next: tf.Tensor;
      if (structureOf(layer).kind === 'shared') {
        const s = states[0];
        next = tf.tidy(() => sandwich(layer, s.acts[i], s.acts[i + 1], G));
      } else {
        const Gi = G;
        const sum: Float64Array = yield local((s) => eaJacTMatJacProdSum(layer, s.acts[i], s.acts[i + 1], Gi));
        next = tf.tidy(() => toTensor(sum, numel(layer.inShape)).div(N));
      }
      G.dispose();
      G = next;
    }
  } finally {
    G.dispose();
  }
  return out;
}

/** All shards in this process: the "all-reduce" is the ordered sum of the local contributions. */
export function runKfraSync(layers: Layer[], states: ShardState[], N: number): Map<number, Float64Array> {
  const program = kfraProgram(layers, states, N);
  let step = program.next();
  while (!step.done) step = program.next(sumInOrder(step.value));
  return step.value;
}

/** Shards spread over workers: each step's per-shard contributions go through `allReduce`. */
export async function runKfraAsync(layers: Layer[], states: ShardState[], N: number, allReduce: (local: Float64Array[]) => Promise<Float64Array>): Promise<Map<number, Float64Array>> {
  const program = kfraProgram(layers, states, N);
  let step = program.next();
  while (!step.done) step = program.next(await allReduce(step.value));
  return step.value;
}

/** Largest matrix an all-reduce of this network carries (elements), for sizing shared buffers. */
export function kfraCapacity(layers: Layer[]): number {
  let d = numel(layers[layers.length - 1].outShape);
  for (let i = layers.length - 1; i >= 1; i--) {
    // A layer that states no structure ends the recursion (with --skip-unsupported; else it was refused).
    if (capabilityGap(layers[i], 'jacobianStructure')) break;
    if (structureOf(layers[i]).kind !== 'shared') d = Math.max(d, numel(layers[i].inShape));
  }
  return d * d;
}
