/**
 * Benchmark problems: a model.json from bench/problems/, deterministic PyTorch-like random weights
 * and random data. Everything is a pure function of (problem, seed, N): two runs see the same numbers.
 *
 * Weights: torch's default init for Linear/ConvNd, uniform(−1/√fan_in, 1/√fan_in) for weight
 * (kaiming_uniform with a=√5 reduces to exactly that bound) and bias, fan_in = Π weight.shape[1:].
 * Data: standard-normal inputs [N, *input_shape] (float32), labels uniform in [0, classes) (int32).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { numel } from '../src/io/host-tensor.ts';
import { buildNetwork, describeParameters, type Network } from '../src/nn/network.ts';
import { parseModelSpecText } from '../src/nn/parse-spec.ts';
import type { ModelSpec } from '../src/nn/spec.ts';

export const PROBLEM_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'problems');

/** Problem names: the .json files in bench/problems, in the anchors' order where known. */
export function listProblems(): string[] {
  const order = ['mlp_mnist', '2c2d_fmnist', '3c3d_cifar10'];
  const found = readdirSync(PROBLEM_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5));
  return [...order.filter((p) => found.includes(p)), ...found.filter((p) => !order.includes(p)).sort()];
}

export function loadSpec(name: string): ModelSpec {
  const file = path.join(PROBLEM_DIR, `${name}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`unknown problem '${name}' (no ${path.relative(process.cwd(), file)}; known: ${listProblems().join(', ')})`);
  }
  return parseModelSpecText(text, file);
}

/** mulberry32, the library's seeded PRNG; uniform in [0, 1). */
import { mulberry32 as makeRng } from '../src/data/prng.ts';
export { makeRng };

/** Standard normal draws (Box–Muller, both outputs used). */
export function fillNormal(out: Float32Array, rng: () => number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - rng(); // (0, 1]: log is finite
    const u2 = rng();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** PyTorch-like default init for every parameter the spec needs ("0.weight", "0.bias", …). */
export function makeWeights(spec: ModelSpec, seed: number): Map<string, HostTensor> {
  const { params, buffers } = describeParameters(spec);
  if (Object.keys(buffers).length > 0) throw new Error(`bench problems with buffers (BatchNorm) are not supported: ${Object.keys(buffers).join(', ')}`);
  const rng = makeRng(seed);
  const weights = new Map<string, HostTensor>();
  for (const [key, shape] of Object.entries(params)) {
    const layer = key.slice(0, key.lastIndexOf('.'));
    const weightShape = params[`${layer}.weight`] ?? shape;
    const fanIn = numel(weightShape.slice(1)) || 1;
    const bound = 1 / Math.sqrt(fanIn);
    const data = new Float32Array(numel(shape));
    for (let i = 0; i < data.length; i++) data[i] = (2 * rng() - 1) * bound;
    weights.set(key, { dtype: 'float32', shape, data });
  }
  return weights;
}

export function makeData(spec: ModelSpec, N: number, seed: number, classes = 10): { inputs: HostTensor; targets: HostTensor } {
  const rng = makeRng(seed ^ 0x5bd1e995);
  const inputs: HostTensor = { dtype: 'float32', shape: [N, ...spec.input_shape], data: fillNormal(new Float32Array(N * numel(spec.input_shape)), rng) };
  const labels = new Int32Array(N);
  for (let i = 0; i < N; i++) labels[i] = Math.min(classes - 1, Math.floor(rng() * classes));
  return { inputs, targets: { dtype: 'int32', shape: [N], data: labels } };
}

export interface Problem {
  name: string;
  spec: ModelSpec;
  net: Network;
  /** The weights the network was built from (for jobs on a worker pool). */
  weights: Map<string, HostTensor>;
  inputs: HostTensor;
  targets: HostTensor;
  /** Number of trainable parameters. */
  numParams: number;
}

/** Builds the network (on the current backend) with seeded weights, and N samples of data. */
export function loadProblem(name: string, N: number, seed = 0): Problem {
  const spec = loadSpec(name);
  const weights = makeWeights(spec, seed);
  const net = buildNetwork(spec, weights);
  const numParams = [...weights.values()].reduce((s, t) => s + t.data.length, 0);
  // Labels in [0, 10) for the anchor problems (their output has 10 classes).
  const classes = Math.min(10, net.outputShape[0]);
  return { name, spec, net, weights, ...makeData(spec, N, seed + 1, classes), numParams };
}

/** V standard-normal vectors per parameter, [V, *θ] (GGNMP/HMP), seeded. */
export function makeVectors(net: Network, V = 1, seed = 0x9e3779b9): Map<string, HostTensor> {
  const rng = makeRng(seed);
  const out = new Map<string, HostTensor>();
  for (const name of net.paramNames) {
    const shape = net.paramShapes[name];
    out.set(name, { dtype: 'float32', shape: [V, ...shape], data: fillNormal(new Float32Array(V * numel(shape)), rng) });
  }
  return out;
}
