/**
 * Generated weights and data, so the demo, benchmarks and tests need no downloads.
 * Weights follow PyTorch's default init: U(−1/√fan_in, 1/√fan_in) for weight and bias.
 */
import { numel, type HostTensor } from '../io/host-tensor.ts';
import { describeParameters } from '../nn/network.ts';
import type { ModelSpec } from '../nn/spec.ts';
import { mulberry32, normals } from './prng.ts';

export function initWeights(spec: ModelSpec, seed = 0): Map<string, HostTensor> {
  const rand = mulberry32(seed);
  const { params, buffers } = describeParameters(spec);
  const weights = new Map<string, HostTensor>();
  const fanIn = new Map<string, number>();
  for (const [key, shape] of Object.entries(params)) {
    const layer = key.slice(0, key.lastIndexOf('.'));
    if (key.endsWith('.weight')) fanIn.set(layer, shape.length > 1 ? numel(shape.slice(1)) : 1);
    // BatchNorm: torch initialises weight to 1 and bias to 0.
    const isNorm = shape.length === 1 && buffers[`${layer}.running_mean`];
    const bound = 1 / Math.sqrt(fanIn.get(layer) ?? shape[0]);
    const data = new Float32Array(numel(shape)).map(() => (isNorm ? (key.endsWith('.weight') ? 1 : 0) : (2 * rand() - 1) * bound));
    weights.set(key, { dtype: 'float32', shape, data });
  }
  for (const [key, shape] of Object.entries(buffers)) {
    const fill = key.endsWith('running_var') ? 1 : 0;
    weights.set(key, { dtype: 'float32', shape, data: new Float32Array(numel(shape)).fill(fill) });
  }
  return weights;
}

/** Standard-normal inputs [N, *input_shape]. */
export function normalInputs(spec: ModelSpec, N: number, seed = 1): HostTensor {
  const shape = [N, ...spec.input_shape];
  return { dtype: 'float32', shape, data: normals(mulberry32(seed), numel(shape)) };
}

/** Uniform class labels in [0, classes), int64 like torch's. */
export function uniformLabels(N: number, classes: number, seed = 2): HostTensor {
  const rand = mulberry32(seed);
  return { dtype: 'int64', shape: [N], data: BigInt64Array.from({ length: N }, () => BigInt(Math.floor(rand() * classes))) };
}

/**
 * A learnable classification set: each class has a random mean pattern; inputs are that pattern
 * plus unit noise. Gradients then have structure (unlike pure noise), which makes a demo readable.
 */
export function blobs(spec: ModelSpec, N: number, classes: number, seed = 3): { inputs: HostTensor; targets: HostTensor } {
  const rand = mulberry32(seed);
  const per = numel(spec.input_shape);
  const means = normals(rand, classes * per);
  const noise = normals(rand, N * per);
  const labels = new BigInt64Array(N);
  const data = new Float32Array(N * per);
  for (let n = 0; n < N; n++) {
    const c = n % classes;
    labels[n] = BigInt(c);
    for (let j = 0; j < per; j++) data[n * per + j] = means[c * per + j] + noise[n * per + j];
  }
  return { inputs: { dtype: 'float32', shape: [N, ...spec.input_shape], data }, targets: { dtype: 'int64', shape: [N], data: labels } };
}
