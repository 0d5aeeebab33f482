/**
 * Shared pieces of the coordinator tests: two tiny models (a CNN with CE and an MLP with Tanh and
 * Sigmoid), seeded batches, the in-process reference (`runBatch`, cached per shard plan), result
 * comparisons (bitwise, or rtol relative to the largest magnitude), fault counters, and a check
 * that no worker process outlives its pool.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { expect } from 'vitest';
import { runBatch, type RunOptions, type RunResult } from '../../src/api/run.ts';
import type { JobTensors } from '../../src/coordinator/job-context.ts';
import { numel, type HostTensor } from '../../src/io/host-tensor.ts';
import { buildNetwork, disposeNetwork, type Network } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { EXTENSION_NAMES, type ExtensionName } from '../../src/vocabulary.ts';
import { expectClose, relError } from './expect-close.ts';
import { f32, mulberry32, randn, randomBatch, randomWeights, type Rng } from './oracle.ts';

export const POOL_KINDS = ['threads', 'processes'] as const;
export type PoolKind = (typeof POOL_KINDS)[number];

/** Every quantity the pools must reproduce; GGNMP/HMP only with `vectors`. */
export const WITHOUT_VECTORS: ExtensionName[] = EXTENSION_NAMES.filter((q) => q !== 'GGNMP' && q !== 'HMP');
/** KFRA switches the whole job to the group path (all-reduce); the shard path is tested without it. */
export const SHARD_PATH: ExtensionName[] = WITHOUT_VECTORS.filter((q) => q !== 'KFRA');
export const WITH_VECTORS: ExtensionName[] = [...SHARD_PATH, 'GGNMP', 'HMP'];
/** Quantities drawn with Monte-Carlo samples (randomness keyed by seed and global sample index). */
export const MC_QUANTITIES: ExtensionName[] = ['DiagGGNMC', 'BatchDiagGGNMC', 'SqrtGGNMC', 'KFAC'];

export const MODEL_SPECS = {
  cnn: {
    input_shape: [1, 6, 6],
    layers: [
      { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 3 },
      { type: 'ReLU' },
      { type: 'MaxPool2d', kernel_size: 2 },
      { type: 'Flatten' },
      { type: 'Linear', in_features: 8, out_features: 3 },
    ],
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
  },
  mlp: {
    input_shape: [4],
    layers: [
      { type: 'Linear', in_features: 4, out_features: 5 },
      { type: 'Tanh' },
      { type: 'Linear', in_features: 5, out_features: 4 },
      { type: 'Sigmoid' },
      { type: 'Linear', in_features: 4, out_features: 2 },
    ],
    loss: { type: 'BCEWithLogitsLoss', reduction: 'sum' },
  },
  /** A weight of 20,480 values: large enough for the host buffer pool (test/coordinator/buffer-reuse). */
  wide: {
    input_shape: [160],
    layers: [
      { type: 'Linear', in_features: 160, out_features: 128 },
      { type: 'ReLU' },
      { type: 'Linear', in_features: 128, out_features: 10 },
    ],
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
  },
  /** BatchNorm (no Kronecker factors) between layers that have them: the --skip-unsupported tests' network. */
  bncnn: {
    input_shape: [2, 4],
    layers: [
      { type: 'Conv1d', in_channels: 2, out_channels: 3, kernel_size: 2 },
      { type: 'BatchNorm1d', num_features: 3 },
      { type: 'Tanh' },
      { type: 'Flatten' },
      { type: 'Linear', in_features: 9, out_features: 3 },
    ],
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
  },
} as const;
export type ModelName = keyof typeof MODEL_SPECS;

export interface TestJob {
  name: ModelName;
  tensors: JobTensors;
  /** The same model built in this process, for the reference runs. */
  net: Network;
}

/** V standard-normal vectors [V, *θ] per parameter (GGNMP/HMP). */
export function randomVectors(net: Network, V: number, rng: Rng): Map<string, HostTensor> {
  return new Map(net.paramNames.map((p) => {
    const shape = [V, ...net.paramShapes[p]];
    return [p, f32(shape, randn(rng, numel(shape)))];
  }));
}

/** A seeded job of N samples; `vectors` (two per parameter) for GGNMP/HMP. */
export function makeJob(name: ModelName, N: number, seed = 17): TestJob {
  const rng = mulberry32(seed);
  const spec = parseModelSpec(MODEL_SPECS[name]);
  const weights = randomWeights(spec, rng);
  const net = buildNetwork(spec, weights);
  const { inputs, targets } = randomBatch(net, N, rng);
  const vectors = randomVectors(net, 2, rng);
  return { name, net, tensors: { spec, weights, inputs, targets, vectors } };
}

export function disposeJob(job: TestJob): void {
  disposeNetwork(job.net);
}

/** runBatch in this process (one shard unless `shardSize`), cached per job, quantities and options. */
export class Reference {
  private cache = new Map<string, RunResult>();
  constructor(private job: TestJob) {}
  get(opts: RunOptions): RunResult {
    const key = JSON.stringify({ ...opts, vectors: undefined });
    let r = this.cache.get(key);
    if (!r) {
      const { inputs, targets, vectors } = this.job.tensors;
      r = runBatch(this.job.net, inputs, targets, { ...opts, vectors: opts.extensions.some((q) => q === 'GGNMP' || q === 'HMP') ? vectors : undefined });
      this.cache.set(key, r);
    }
    return r;
  }
}

const bytes = (t: HostTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

/** Same keys, shapes, dtypes and bytes (Float32Array data compared as raw bytes), and the same loss. */
export function expectBitwise(actual: RunResult, expected: RunResult, label: string): void {
  expect(actual.N, `${label}: N`).toBe(expected.N);
  expect(actual.loss, `${label}: loss`).toBe(expected.loss);
  expect([...actual.results.keys()], `${label}: keys`).toEqual([...expected.results.keys()]);
  for (const [key, e] of expected.results) {
    const a = actual.results.get(key)!;
    expect(a.shape, `${label} ${key}: shape`).toEqual(e.shape);
    expect(a.dtype, `${label} ${key}: dtype`).toBe(e.dtype);
    if (!bytes(a).equals(bytes(e))) expect.fail(`${label} ${key}: not bitwise equal (relative error ${relError(a.data as Float32Array, e.data as Float32Array).toExponential(3)})`);
  }
}

/**
 * Every result within rtol of the reference, relative to the largest magnitude of the expected
 * tensor (expectClose); the loss within rtol relative to itself.
 */
export function expectResultsClose(actual: RunResult, expected: RunResult, rtol: number, label: string): void {
  expect(actual.N, `${label}: N`).toBe(expected.N);
  expect(Math.abs(actual.loss - expected.loss), `${label}: loss ${actual.loss} vs ${expected.loss}`).toBeLessThanOrEqual(rtol * Math.abs(expected.loss));
  expect([...actual.results.keys()].sort(), `${label}: keys`).toEqual([...expected.results.keys()].sort());
  for (const [key, e] of expected.results) {
    const a = actual.results.get(key)!;
    expect(a.shape, `${label} ${key}: shape`).toEqual(e.shape);
    expectClose(a.data as Float32Array, e.data as Float32Array, { rtol, label: `${label} ${key}` });
  }
}

/** A FaultInjection counter armed for `times` attempts. */
export function faultCounter(times: number): SharedArrayBuffer {
  const counter = new SharedArrayBuffer(4);
  new Int32Array(counter)[0] = times;
  return counter;
}

/** Live (not zombie) child processes of this process, from /proc (Linux); [] where /proc is absent. */
export function liveChildPids(): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const d of entries) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // pid (comm) state ppid …; comm may hold spaces, so split after the last ')'.
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z') out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Directories that worker processes `pids` left in /dev/shm (the process pool's transport). */
export function leftoverWorkerDirs(pids: Iterable<number>): string[] {
  const root = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const names = readdirSync(root);
  return [...pids].flatMap((pid) => names.filter((n) => n.startsWith(`backpack-worker-${pid}-`)));
}
