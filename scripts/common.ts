/**
 * Helpers the example scripts share: generated datasets written as .npy pairs, checkpoints made by
 * a few steps of plain SGD (with the gradient backpack-ts computes), and real datasets when their
 * files are under data/ (scripts/fetch-datasets.ts puts them there).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBatch } from '../src/api/run.ts';
import { sliceRows } from '../src/core/inputs.ts';
import { openDataset, type DatasetOptions } from '../src/data/dataset.ts';
import { blobs } from '../src/data/synthetic.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { writeNpyFile, writeSafetensorsFile } from '../src/io/tensor-file.ts';
import { buildNetwork, disposeNetwork } from '../src/nn/network.ts';
import { parseModelSpecText } from '../src/nn/parse-spec.ts';
import type { ModelSpec } from '../src/nn/spec.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function readSpec(file: string): Promise<ModelSpec> {
  return parseModelSpecText(await readFile(file, 'utf8'), file);
}

/** True when this module is the script node was started with (not imported by a test). */
export const isMain = (url: string) => process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(url);

/** Writes inputs.npy + targets.npy into `dir`; returns the dataset options for openDataset. */
export async function writeNpyDataset(dir: string, data: { inputs: HostTensor; targets: HostTensor }, name: string): Promise<DatasetOptions> {
  await writeNpyFile(path.join(dir, 'inputs.npy'), data.inputs);
  await writeNpyFile(path.join(dir, 'targets.npy'), data.targets);
  return { path: path.join(dir, 'inputs.npy'), name };
}

export type DataKind = 'generated' | 'mnist' | 'cifar10';

export interface ScriptArgs {
  /** auto: MNIST, else CIFAR-10, when under the data root; else generated. */
  data: DataKind | 'auto';
  out: string;
  dataRoot: string;
  /** --top K (scripts that list top entries). */
  top?: number;
}

/** `--data auto|generated|mnist|cifar10`, `--out DIR`, `--data-root DIR` (default data/), `--top K`. */
export function scriptArgs(defaultOut: string): ScriptArgs {
  const { values } = parseArgs({
    options: { data: { type: 'string', default: 'auto' }, out: { type: 'string', default: defaultOut }, 'data-root': { type: 'string', default: path.join(ROOT, 'data') }, top: { type: 'string' } },
  });
  const data = values.data as ScriptArgs['data'];
  if (!['auto', 'generated', 'mnist', 'cifar10'].includes(data)) throw new Error(`--data must be auto, generated, mnist or cifar10, got '${data}'`);
  const top = values.top === undefined ? undefined : Number(values.top);
  if (top !== undefined && !(Number.isInteger(top) && top > 0)) throw new Error(`--top must be a positive integer, got '${values.top}'`);
  return { data, out: path.resolve(values.out!), dataRoot: path.resolve(values['data-root']!), top };
}

const REAL_DIRS: Record<Exclude<DataKind, 'generated'>, string> = { mnist: 'mnist', cifar10: 'cifar-10-batches-bin' };

export interface ScriptData {
  kind: DataKind;
  spec: ModelSpec;
  /** Where the model came from (for the printout). */
  modelFile: string;
  train: DatasetOptions;
  test: DatasetOptions;
}

/**
 * The data a script runs on: MNIST (bench/problems/mlp_mnist.json) or CIFAR-10 (3c3d_cifar10.json)
 * from the data root (scripts/fetch-datasets.ts), or `generated`: blobs shaped for `generatedModel`
 * (default mlp_mnist's 1×28×28), N samples per split, written as .npy under OUT/data/.
 */
export async function scriptData(a: ScriptArgs, o: { N: number; classes?: number; generatedModel?: string }): Promise<ScriptData> {
  let kind = a.data;
  if (kind === 'auto') kind = (['mnist', 'cifar10'] as const).find((k) => existsSync(path.join(a.dataRoot, REAL_DIRS[k]))) ?? 'generated';
  if (kind !== 'generated') {
    const dir = path.join(a.dataRoot, REAL_DIRS[kind]);
    if (!existsSync(dir)) throw new Error(`--data ${kind}: ${dir} not found (node --import tsx scripts/fetch-datasets.ts ${kind})`);
    const modelFile = path.join(ROOT, 'bench', 'problems', kind === 'mnist' ? 'mlp_mnist.json' : '3c3d_cifar10.json');
    const split = (s: 'train' | 'test'): DatasetOptions => ({ path: dir, split: s, normalize: 'unit', name: `${kind}-${s}` });
    return { kind, spec: await readSpec(modelFile), modelFile, train: split('train'), test: split('test') };
  }
  const modelFile = o.generatedModel ?? path.join(ROOT, 'bench', 'problems', 'mlp_mnist.json');
  const spec = await readSpec(modelFile);
  const classes = o.classes ?? 10;
  const dataDir = path.join(a.out, 'data');
  // One draw of 2N samples split in halves: both splits share blobs()'s class means (its seed draws them).
  const all = blobs(spec, 2 * o.N, classes, 3);
  const write = async (s: 'train' | 'test', start: number) => {
    await mkdir(path.join(dataDir, s), { recursive: true });
    const part = { inputs: sliceRows(all.inputs, start, o.N), targets: sliceRows(all.targets, start, o.N) };
    return writeNpyDataset(path.join(dataDir, s), part, `blobs-${s}`);
  };
  return { kind, spec, modelFile, train: await write('train', 0), test: await write('test', o.N) };
}

/** The first `n` rows of a dataset, in memory (for the SGD steps that make checkpoints). */
export async function firstRows(d: DatasetOptions, n: number): Promise<{ inputs: HostTensor; targets: HostTensor }> {
  const ds = await openDataset(d);
  for await (const b of ds.batches({ batchSize: Math.min(n, ds.size) })) return { inputs: b.inputs, targets: b.targets };
  throw new Error(`${ds.name} is empty`);
}

const copyWeights = (w: Map<string, HostTensor>) =>
  new Map([...w].map(([k, t]) => [k, { ...t, data: new Float32Array(t.data as Float32Array) } as HostTensor]));

/**
 * Plain SGD θ ← θ − lr·∇L on cycling mini-batches of the data, in this process (the backend must
 * be set). Returns the weights after each step listed in `saveAt` (0 = the initial weights).
 */
export function sgdCheckpoints(
  spec: ModelSpec,
  init: Map<string, HostTensor>,
  data: { inputs: HostTensor; targets: HostTensor },
  o: { steps: number; lr: number; batchSize: number; saveAt: number[] },
): Map<number, Map<string, HostTensor>> {
  const saved = new Map<number, Map<string, HostTensor>>();
  let w = copyWeights(init);
  if (o.saveAt.includes(0)) saved.set(0, copyWeights(w));
  const N = data.inputs.shape[0];
  for (let step = 1; step <= o.steps; step++) {
    const start = ((step - 1) * o.batchSize) % N;
    const count = Math.min(o.batchSize, N - start);
    const net = buildNetwork(spec, w);
    const r = runBatch(net, sliceRows(data.inputs, start, count), sliceRows(data.targets, start, count), { extensions: [] });
    disposeNetwork(net);
    const next = copyWeights(w);
    for (const p of net.paramNames) {
      const g = r.results.get(`${p}.grad`)!.data as Float32Array;
      const t = next.get(p)!.data as Float32Array;
      for (let j = 0; j < t.length; j++) t[j] -= o.lr * g[j];
    }
    w = next;
    if (o.saveAt.includes(step)) saved.set(step, copyWeights(w));
  }
  return saved;
}

export async function writeCheckpoints(dir: string, saved: Map<number, Map<string, HostTensor>>): Promise<string[]> {
  const files: string[] = [];
  for (const [step, w] of saved) {
    const file = path.join(dir, `step-${step}.safetensors`);
    await writeSafetensorsFile(file, w);
    files.push(file);
  }
  return files;
}

/** A fixed-width text table for the scripts' output. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => String(r[j]).length)));
  return cells.map((r) => r.map((c, j) => String(c).padStart(widths[j])).join('  ')).join('\n') + '\n';
}

export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4);
}
