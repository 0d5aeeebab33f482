/**
 * SWEEP.json, validated with zod. Relative paths are relative to the SWEEP.json file itself.
 *
 * {
 *   "model": "model.json" | { ...spec },                  path or inline model spec
 *   "checkpoints": ["ckpt-0.safetensors", { "path": "ckpt-1.safetensors", "name": "step-100" }],
 *   "batchSizes": [16, 64],
 *   "datasets": ["data/inputs.npy", { "path": "data/mnist", "split": "test", "normalize": "unit" }],
 *   "quantities": ["Variance", "BatchL2Grad", "GradientNoiseScale"] | "Variance,BatchL2Grad",
 *   "options": { "backend", "workers", "pool", "seed", "mcSamples", "shuffle", "dropLast", "maxBatches",
 *                "mode", "shardSize", "topK", "out", "format", "tensors", "skipUnsupported" },
 *   "spectrum": { "curvature", "topK", "probes", "steps", "dataset", "maxSamples", "shardSize" }   optional (docs/spectrum.md)
 *   "queue": { "redis", "name", "prefix", "ttlSeconds" }     optional: run on the queue (docs/sweeps-on-the-queue.md)
 * }
 *
 * A dataset entry is anything openDataset() takes (src/data/dataset.ts): its own options are
 * checked there, with the same messages as everywhere else.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { DatasetOptions } from '../data/dataset.ts';
import { parseExtensionList } from '../extensions/index.ts';
import { parseModelSpec, readModelSpec } from '../nn/parse-spec.ts';
import type { ModelSpec } from '../nn/spec.ts';
import { BACKEND_NAMES, type BackendName, type ExtensionName } from '../vocabulary.ts';
import { SweepSpecError } from './errors.ts';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const filePath = z.string().min(1);

export const SWEEP_MODES = ['batches', 'accumulate', 'both'] as const;
export type SweepMode = (typeof SWEEP_MODES)[number];
export const ROW_FORMATS = ['jsonl', 'csv'] as const;
export type RowFormat = (typeof ROW_FORMATS)[number];

const optionsSchema = z.strictObject({
  backend: z.enum(BACKEND_NAMES).default('wasm'),
  /** Worker threads/processes; 0 runs in this process. Default: the number of cores. */
  workers: nonNegInt.optional(),
  pool: z.enum(['threads', 'processes']).default('threads'),
  /** Seed of MC draws and train-mode Dropout, and of the shuffle. */
  seed: nonNegInt.default(0),
  mcSamples: posInt.default(1),
  shuffle: z.boolean().default(false),
  /** Drop a last batch smaller than the batch size. */
  dropLast: z.boolean().default(false),
  /** Only the first K batches of each pass (the accumulation then covers those K·B samples). */
  maxBatches: posInt.optional(),
  /**
   * batches: one result per mini-batch (BackPACK on that batch); accumulate: one exact result over
   * all samples of the pass (as one batch of N); both: both (the data is run through twice).
   */
  mode: z.enum(SWEEP_MODES).default('batches'),
  /** Samples per shard (default: each batch split evenly over the workers). */
  shardSize: posInt.optional(),
  /** How many largest-magnitude diagonal entries a row lists (0: none). */
  topK: nonNegInt.default(10),
  /** Output directory (default: out/sweep-<SWEEP file name> in the working directory); relative to SWEEP.json like every path here. */
  out: filePath.optional(),
  format: z.union([z.enum(ROW_FORMATS), z.array(z.enum(ROW_FORMATS)).min(1)]).default(['jsonl']),
  /** Write every unit's full tensors to units/<id>/results.safetensors. */
  tensors: z.boolean().default(true),
  /** Accept tensors in the checkpoints that the model does not use (`run --allow-extra-weights`). */
  allowExtraWeights: z.boolean().optional(),
  /**
   * Compute each quantity for every layer that supports it and list the (layer, quantity) pairs
   * left out in summary.json and each unit.json (`run --skip-unsupported`); default: refuse the sweep.
   */
  skipUnsupported: z.boolean().default(false),
});

const datasetEntry = z.union([
  filePath,
  z.looseObject({ path: z.union([filePath, z.array(filePath).min(1)]), name: z.string().min(1).optional() }),
]);

export const sweepFileSchema = z.strictObject({
  model: z.union([filePath, z.record(z.string(), z.unknown())]),
  checkpoints: z.array(z.union([filePath, z.strictObject({ path: filePath, name: z.string().min(1).optional() })])).min(1),
  batchSizes: z.array(posInt).min(1),
  datasets: z.array(datasetEntry).min(1),
  quantities: z.union([z.string(), z.array(z.string())]).default([]),
  options: optionsSchema.prefault({}),
  /**
   * Run the units' batches as queue jobs for `backpack-ts worker`s (as `sweep --queue`): the Redis
   * URL, queue name and key prefix (defaults as for the queue commands; passwords from the
   * environment, never from this file), and how long a unit's job is kept in Redis.
   */
  /**
   * Per checkpoint: the curvature spectrum over one dataset (its rows in file order, or the first
   * maxSamples), written to spectra/<checkpoint>/spectrum.json and drawn by `report`.
   */
  spectrum: z.strictObject({
    curvature: z.enum(['ggn', 'hessian']).default('ggn'),
    /** Largest eigenvalues (Lanczos; 0: none). */
    topK: nonNegInt.default(5),
    /** SLQ probes for the density (0: none) and Lanczos steps per probe. */
    probes: nonNegInt.default(5),
    steps: posInt.default(40),
    /** Index into datasets. */
    dataset: nonNegInt.default(0),
    maxSamples: posInt.optional(),
    shardSize: posInt.default(32),
  }).optional(),
  queue: z.strictObject({
    redis: z.string().min(1).optional(),
    name: z.string().min(1).optional(),
    prefix: z.string().min(1).optional(),
    ttlSeconds: posInt.optional(),
  }).optional(),
});

export type SweepOptions = Omit<z.output<typeof optionsSchema>, 'format'> & { format: RowFormat[] };

export interface Checkpoint {
  name: string;
  path: string;
}

/** A validated sweep with every path resolved. */
export interface SweepSpec {
  model: ModelSpec;
  /** The model file, or 'inline'. */
  modelSource: string;
  checkpoints: Checkpoint[];
  batchSizes: number[];
  datasets: DatasetOptions[];
  quantities: ExtensionName[];
  options: SweepOptions & { backend: BackendName };
  /** Present when SWEEP.json asks for the queue. */
  queue?: SweepQueueSettings;
  /** Present when SWEEP.json asks for a spectrum per checkpoint. */
  spectrum?: SweepSpectrumSettings;
}

export type SweepSpectrumSettings = NonNullable<z.output<typeof sweepFileSchema>['spectrum']>;

export interface SweepQueueSettings {
  redis?: string;
  name?: string;
  prefix?: string;
  ttlSeconds?: number;
}

/** Names the JSON path of each issue, e.g. `options.maxBatches: Too small: expected number to be >0`. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
      return `${where || '(root)'}: ${issue.message}`;
    })
    .join('; ');
}

/** Dataset options that hold paths (resolved like every other path of the file). */
const PATH_KEYS = ['path', 'targets', 'labels'] as const;

function resolveDataset(entry: z.output<typeof datasetEntry>, baseDir: string): DatasetOptions {
  const at = (p: string) => path.resolve(baseDir, p);
  if (typeof entry === 'string') return { path: at(entry) };
  const out: Record<string, unknown> = { ...entry };
  for (const key of PATH_KEYS) {
    const v = out[key];
    if (typeof v === 'string') out[key] = at(v);
    else if (Array.isArray(v)) out[key] = v.map((p) => (typeof p === 'string' ? at(p) : p));
  }
  return out as unknown as DatasetOptions;
}

const checkpointName = (p: string) => path.basename(p).replace(/\.safetensors$/i, '');

/** Validates an already-parsed SWEEP.json value; `baseDir` resolves its relative paths. */
export async function parseSweepSpec(raw: unknown, baseDir: string, label = 'sweep spec'): Promise<SweepSpec> {
  const result = sweepFileSchema.safeParse(raw);
  if (!result.success) throw new SweepSpecError(`${label}: ${describeIssues(result.error)}`);
  const f = result.data;
  const at = (p: string) => path.resolve(baseDir, p);
  const model = typeof f.model === 'string' ? await readModelSpec(at(f.model)) : parseModelSpec(f.model, `${label}: model`);
  const checkpoints = f.checkpoints.map((c) => (typeof c === 'string' ? { name: checkpointName(c), path: at(c) } : { name: c.name ?? checkpointName(c.path), path: at(c.path) }));
  const dup = <T>(xs: T[]) => xs.find((x, i) => xs.indexOf(x) !== i);
  const dupName = dup(checkpoints.map((c) => c.name));
  if (dupName !== undefined) throw new SweepSpecError(`${label}: checkpoints: two checkpoints are named '${dupName}'; give one a "name"`);
  const dupBatch = dup(f.batchSizes);
  if (dupBatch !== undefined) throw new SweepSpecError(`${label}: batchSizes: ${dupBatch} is listed twice`);
  const quantities = parseExtensionList(f.quantities);
  for (const q of quantities) {
    if (q === 'GGNMP' || q === 'HMP') throw new SweepSpecError(`${label}: quantities: ${q} needs vectors, which a sweep does not take; use \`backpack-ts run --vectors\``);
  }
  if (quantities.includes('KFRA') && f.options.mode !== 'batches') {
    throw new SweepSpecError(`${label}: quantities: KFRA averages over the whole batch at every layer and cannot be accumulated over batches; use options.mode "batches"`);
  }
  if (f.spectrum && f.spectrum.dataset >= f.datasets.length) throw new SweepSpecError(`${label}: spectrum.dataset: ${f.spectrum.dataset} is not an index into the ${f.datasets.length} datasets`);
  if (f.spectrum && f.spectrum.topK === 0 && f.spectrum.probes === 0) throw new SweepSpecError(`${label}: spectrum: nothing to compute (topK and probes are both 0)`);
  const format = [...new Set(Array.isArray(f.options.format) ? f.options.format : [f.options.format])];
  return {
    model,
    modelSource: typeof f.model === 'string' ? at(f.model) : 'inline',
    checkpoints,
    batchSizes: f.batchSizes,
    datasets: f.datasets.map((d) => resolveDataset(d, baseDir)),
    quantities,
    options: { ...f.options, format, out: f.options.out === undefined ? undefined : at(f.options.out) },
    ...(f.queue ? { queue: f.queue } : {}),
    ...(f.spectrum ? { spectrum: f.spectrum } : {}),
  };
}

export function parseSweepText(text: string, baseDir: string, label = 'sweep spec'): Promise<SweepSpec> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SweepSpecError(`${label}: not valid JSON (${(e as Error).message})`);
  }
  return parseSweepSpec(raw, baseDir, label);
}

export async function readSweepSpec(file: string): Promise<SweepSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new SweepSpecError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseSweepText(text, path.dirname(path.resolve(file)), file);
}
