/**
 * Independent oracles for the core engine: seeded data, random weights for a model spec, and
 * per-sample gradients by plain reverse-mode autodiff (tf.grads, one sample at a time) through
 * the network's forward functions — no hand-written Jacobian is used on that path.
 *
 * Autodiff needs the gradients that @tensorflow/tfjs registers into the shared engine: import
 * `./oracle.ts` before calling `autodiffPerSample` and run it on the cpu backend (the gather in
 * our im2col needs UnsortedSegmentSum for its gradient).
 */
import '@tensorflow/tfjs';
import { tf } from '../../src/core/tf.ts';
import { mathOf } from '../../src/core/derivatives/index.ts';
import { mergeForward } from '../../src/core/derivatives/merge.ts';
import type { ForwardContext, Layer } from '../../src/core/derivatives/types.ts';
import { sliceRows } from '../../src/core/inputs.ts';
import { numel, type HostTensor } from '../../src/io/host-tensor.ts';
import { LOSSES } from '../../src/nn/losses/index.ts';
import { buildNetwork, describeParameters, type Network } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import type { LossKind, ParamName, Reduction } from '../../src/vocabulary.ts';

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1) (the library's own). */
export { mulberry32 } from '../../src/data/prng.ts';

export type Rng = () => number;

/**
 * Comparisons (x > 0 in ELU and SELU's `where`) are piecewise constant, so their gradient is zero
 * almost everywhere; tfjs registers none and would refuse to backprop through them.
 */
for (const kernelName of ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual']) {
  if (tf.getGradient(kernelName) == null) {
    tf.registerGradient({
      kernelName,
      inputsToSave: ['a', 'b'],
      gradFunc: (_dy, [a, b]) => ({ a: () => tf.zerosLike(a).toFloat(), b: () => tf.zerosLike(b).toFloat() }),
    });
  }
}

/** Standard normals (Box–Muller), scaled. */
export function randn(rng: Rng, count: number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    out[i] = scale * r * Math.cos(2 * Math.PI * rng());
  }
  return out;
}

export function uniform(rng: Rng, count: number, lo = 0, hi = 1): Float32Array {
  return Float32Array.from({ length: count }, () => lo + (hi - lo) * rng());
}

export const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });

/**
 * Random weights for every parameter and buffer of a spec, in PyTorch layout. Weights are scaled
 * by 1/√fan-in so activations stay O(1); BatchNorm's running_var is positive.
 */
export function randomWeights(spec: unknown, rng: Rng): Map<string, HostTensor> {
  const parsed = parseModelSpec(spec);
  const { params, buffers } = describeParameters(parsed);
  const weights = new Map<string, HostTensor>();
  for (const [key, shape] of Object.entries(params)) {
    const fanIn = shape.length > 1 ? numel(shape.slice(1)) : 1;
    weights.set(key, f32(shape, randn(rng, numel(shape), key.endsWith('.bias') ? 0.5 : 1 / Math.sqrt(fanIn))));
  }
  for (const [key, shape] of Object.entries(buffers)) {
    weights.set(key, f32(shape, key.endsWith('running_var') ? uniform(rng, numel(shape), 0.5, 1.5) : randn(rng, numel(shape), 0.3)));
  }
  return weights;
}

/** Inputs [N, *input_shape] and loss-appropriate targets [N, *output] (class labels for CE). */
export function randomBatch(net: Network, N: number, rng: Rng): { inputs: HostTensor; targets: HostTensor } {
  const inputs = f32([N, ...net.inputShape], randn(rng, N * numel(net.inputShape)));
  const outShape = [N, ...net.outputShape];
  let targets: HostTensor;
  switch (net.loss.type) {
    case 'CrossEntropyLoss': {
      // One class per sample, or per sample and position for torch's K-dimensional form [N, C, d1, …].
      const shape = [N, ...net.outputShape.slice(1)];
      targets = { dtype: 'int32', shape, data: Int32Array.from({ length: numel(shape) }, () => Math.floor(rng() * net.outputShape[0])) };
      break;
    }
    case 'BCEWithLogitsLoss':
      targets = f32(outShape, uniform(rng, numel(outShape)));
      break;
    case 'MSELoss':
      targets = f32(outShape, randn(rng, numel(outShape)));
      break;
  }
  return { inputs, targets };
}

export interface OracleCase {
  input_shape: number[];
  layers: Record<string, unknown>[];
}

/** A spec with the given loss; CE gets a Flatten appended when the body's output is not [N, C]. */
export function specWithLoss(c: OracleCase, type: LossKind, reduction: Reduction, ceNeedsFlatten: boolean): unknown {
  const layers = type === 'CrossEntropyLoss' && ceNeedsFlatten ? [...c.layers, { type: 'Flatten' }] : c.layers;
  return { input_shape: c.input_shape, layers, loss: { type, reduction } };
}

/** Builds a network from a plain spec object with random weights. */
export function randomNetwork(spec: unknown, rng: Rng): Network {
  const parsed = parseModelSpec(spec);
  return buildNetwork(parsed, randomWeights(parsed, rng));
}

/** Per-parameter per-sample gradients g_n (ρ-scaled), float64, row-major [N, *θ]. */
export interface PerSampleGrads {
  shape: number[];
  /** One row per sample, each numel(θ) long. */
  rows: Float64Array[];
}

/**
 * Reverse-mode autodiff of ρ·ℓ(f(x_n), y_n), one sample at a time, with the parameters as the
 * differentiated arguments; ρ uses the global N. The forward context gives sample n its global
 * index, so train-mode Dropout draws the same mask as the engine.
 */
export function autodiffPerSample(net: Network, inputs: HostTensor, targets: HostTensor, seed = 0): { grads: Map<string, PerSampleGrads>; loss: number } {
  const loss = LOSSES[net.loss.type];
  const N = inputs.shape[0];
  const rho = loss.rho(net.loss.reduction, N, net.outputShape);
  const where = paramBinding(net);
  const params = where.map((w) => w.tensor);
  const grads = new Map<string, PerSampleGrads>(net.paramNames.map((name, j) => [name, { shape: params[j].shape, rows: [] }]));
  let total = 0;
  for (let n = 0; n < N; n++) {
    tf.tidy(() => {
      const xs = sliceRows(inputs, n, 1);
      const x = tf.tensor(Float32Array.from(xs.data as Float32Array), xs.shape, 'float32');
      const y = loss.targets(sliceRows(targets, n, 1), net.outputShape, 'targets');
      const ctx: ForwardContext = { seed, sampleIndex: Int32Array.of(n) };
      const objective = (...ps: tf.Tensor[]): tf.Scalar => {
        const h = forwardNodes(net, (layer) => boundParams(where, ps, layer), x, ctx);
        return loss.perSample(h, y).sum().mul(rho) as tf.Scalar;
      };
      const { value, grads: gs } = tf.valueAndGrads(objective)(params);
      total += value.dataSync()[0];
      gs.forEach((g, j) => grads.get(net.paramNames[j])!.rows.push(Float64Array.from(g.dataSync())));
    });
  }
  return { grads, loss: total };
}

/** Each parameter's layer name, parameter name and tensor, in net.paramNames order. */
export function paramBinding(net: Network): { name: string; param: ParamName; tensor: tf.Tensor }[] {
  return net.paramNames.map((key) => {
    const dot = key.lastIndexOf('.');
    const name = key.slice(0, dot);
    const param = key.slice(dot + 1) as ParamName;
    return { name, param, tensor: net.layers.find((l) => l.name === name)!.params[param]! };
  });
}

/** The parameters of one layer taken from `ps` (one tensor per binding entry). */
export function boundParams(where: { name: string; param: ParamName }[], ps: tf.Tensor[], layer: Layer): Layer['params'] {
  const bound: Layer['params'] = {};
  where.forEach((w, j) => {
    if (w.name === layer.name) bound[w.param] = ps[j];
  });
  return bound;
}

/** The network's forward through every node (chains and graphs), with substituted parameters. */
export function forwardNodes(net: Network, paramsOf: (layer: Layer) => Layer['params'], x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
  const acts = [x];
  for (const node of net.nodes) {
    const xs = node.inputs.map((i) => acts[i + 1]);
    acts.push(node.kind === 'layer' ? mathOf(node.layer.kind).forward({ ...node.layer, params: paramsOf(node.layer) }, xs[0], ctx) : mergeForward(node.merge, xs));
  }
  return acts[acts.length - 1];
}

/** What runBatch should return for one parameter, from per-sample gradients. */
export function expectedQuantities(g: PerSampleGrads, order?: number[]) {
  const N = g.rows.length;
  const D = g.rows[0].length;
  const grad = new Float64Array(D);
  const sumsq = new Float64Array(D);
  for (const row of g.rows) {
    for (let j = 0; j < D; j++) {
      grad[j] += row[j];
      sumsq[j] += row[j] * row[j];
    }
  }
  const variance = Float64Array.from(grad, (s, j) => sumsq[j] / N - (s / N) ** 2);
  const rows = order ?? g.rows.map((_, i) => i);
  const gradBatch = new Float64Array(rows.length * D);
  rows.forEach((n, r) => gradBatch.set(g.rows[n], r * D));
  const batchL2 = Float64Array.from(rows, (n) => g.rows[n].reduce((a, v) => a + v * v, 0));
  return { grad, sumsq, variance, gradBatch, batchL2, meanSq: sumsq.map((v) => v / N) };
}

/** Dense float64 copy of a host tensor's values. */
export const values = (t: HostTensor | undefined): Float64Array => {
  if (!t) throw new Error('missing result');
  return Float64Array.from(t.data as ArrayLike<number>);
};
