/**
 * One sweep unit: one checkpoint, one batch size, one dataset, one pass over its batches (or the
 * first maxBatches). Two ways to read the pass, chosen by the sweep's mode:
 *
 *   batches     each batch is its own job (N = its size): what BackPACK gives on that batch;
 *   accumulate  each batch is a slice of one job over the whole pass (N = samples in the pass,
 *               global sample offsets: the coordinator's BatchSlice), its partials are added in
 *               batch order and finalised once: exactly the result of one batch of N.
 */
import { runBatch, type RunResult } from '../api/run.ts';
import { computeShard, planShards } from '../core/backprop.ts';
import { checkTargets, sliceRows } from '../core/inputs.ts';
import { collectPartials, runJobOnPool } from '../coordinator/run-job.ts';
import type { WorkerPool } from '../coordinator/pool.ts';
import type { Batch, Dataset } from '../data/dataset.ts';
import { UsageError } from '../errors/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import type { Network } from '../nn/network.ts';
import { finalize } from '../extensions/finalize.ts';
import { skipKeys, type Unsupported } from '../extensions/support.ts';
import { estimateSizes } from '../nn/size-estimate.ts';
import type { Partials } from '../core/partials.ts';
import { mergePartials } from '../reduce/merge.ts';
import type { BackendName, ExtensionName } from '../vocabulary.ts';
import { PartialsAccumulator } from './accumulate.ts';
import type { SweepUnit } from './plan.ts';
import type { SweepOptions } from './spec.ts';
import { summarize, type RowSummary } from './summaries.ts';

/** Per-sample outputs of an accumulated pass above this size are refused (they are held in memory). */
export const MAX_ACCUMULATED_ROW_BYTES = 256 * 2 ** 20;

export interface UnitEnv {
  net: Network;
  weights: Map<string, HostTensor>;
  /** null: every shard runs in this process. */
  pool: WorkerPool | null;
  backend: BackendName;
  quantities: ExtensionName[];
  options: SweepOptions;
  /** Pairs left out with options.skipUnsupported (the same for every unit: one model, one list of quantities). */
  skipped: Unsupported[];
}

export interface SweepRow extends RowSummary {
  unit: string;
  checkpoint: string;
  checkpoint_index: number;
  dataset: string;
  batch_size: number;
  /** The batch's index in the pass, or 'all' for the accumulated pass. */
  batch: number | 'all';
  /** Samples behind this row (the batch's, or the pass's N). */
  samples: number;
  /** Position of the batch's first sample in the pass. */
  first_sample: number;
}

export interface UnitOutput {
  rows: SweepRow[];
  /** Accumulated results unprefixed; per-batch results as `batch-NNNNN/<key>`. */
  tensors: Map<string, HostTensor>;
  batches: number;
  /** Samples in the pass. */
  N: number;
  /** With options.skipUnsupported: the (layer, quantity) pairs left out (unit.json lists them). */
  skipped?: Unsupported[];
}

export const batchPrefix = (k: number) => `batch-${String(k).padStart(5, '0')}/`;

/** Batches in the pass and the samples they hold. */
export function passSize(size: number, batchSize: number, o: Pick<SweepOptions, 'dropLast' | 'maxBatches'>): { batches: number; N: number } {
  let batches = o.dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
  if (o.maxBatches !== undefined) batches = Math.min(batches, o.maxBatches);
  return { batches, N: o.dropLast ? batches * batchSize : Math.min(size, batches * batchSize) };
}

/** Per-sample rows held over a whole pass, sized by the one estimate (nn/size-estimate.ts). */
export function checkRowBytes(env: UnitEnv, N: number, label: string): void {
  const { outputs } = estimateSizes(env.net.spec, { extensions: env.quantities, N, mcSamples: env.options.mcSamples });
  for (const o of outputs) {
    const bytes = N * o.perSample;
    if (bytes > MAX_ACCUMULATED_ROW_BYTES) {
      throw new UsageError(`${label}: ${o.quantity} over the whole pass would hold ${(bytes / 2 ** 20).toFixed(0)} MiB of per-sample rows (limit ${MAX_ACCUMULATED_ROW_BYTES / 2 ** 20} MiB); use mode "batches", maxBatches, or BatchL2Grad`);
    }
  }
}

/** Shards of one batch at global offsets [start, start + count). */
function shardsOf(start: number, count: number, env: UnitEnv) {
  const size = env.options.shardSize ?? Math.ceil(count / Math.max(1, env.pool?.size ?? 1));
  return planShards(count, size).map((s, shardId) => ({ shardId, offset: start + s.offset, count: s.count }));
}

/** One batch as a slice [start, start + B) of a job over N samples: its partials, merged in shard order. */
async function slicePartials(b: Batch, start: number, N: number, env: UnitEnv): Promise<Partials> {
  const { extensions, seed, mcSamples, skipUnsupported } = { extensions: env.quantities, ...env.options };
  const shards = shardsOf(start, b.indices.length, env);
  if (env.pool) {
    const t = { spec: env.net.spec, weights: env.weights, inputs: b.inputs, targets: b.targets };
    const c = await collectPartials(env.pool, t, { backend: env.backend, extensions, seed, mcSamples, skipUnsupported }, { N, rowOffset: start, shards });
    return c.merged;
  }
  checkTargets(env.net, b.targets);
  const skip = skipKeys(env.skipped);
  return mergePartials(shards.map((s) => computeShard(env.net, {
    shardId: s.shardId, inputs: sliceRows(b.inputs, s.offset - start, s.count), targets: sliceRows(b.targets, s.offset - start, s.count),
    offset: s.offset, N, extensions, seed, mcSamples, skip,
  })));
}

/** One batch as its own job. */
function batchResult(b: Batch, env: UnitEnv): Promise<RunResult> | RunResult {
  const o = env.options;
  const settings = { extensions: env.quantities, shardSize: o.shardSize, seed: o.seed, mcSamples: o.mcSamples, skipUnsupported: o.skipUnsupported };
  if (env.pool) return runJobOnPool(env.pool, { spec: env.net.spec, weights: env.weights, inputs: b.inputs, targets: b.targets }, { ...settings, backend: env.backend });
  return runBatch(env.net, b.inputs, b.targets, { ...settings, shardSize: settings.shardSize ?? b.indices.length });
}

/** What a unit computed: each batch's own result (modes batches/both) and the pass's accumulated one. */
export interface UnitResults {
  perBatch: { k: number; start: number; result: Pick<RunResult, 'N' | 'loss' | 'results'> }[];
  accumulated: { loss: number; results: Map<string, HostTensor> } | null;
}

/** A unit's rows and tensors from its results, whoever computed them (this pool, or the queue: queue/sweep-unit.ts). */
export function unitOutput(unit: SweepUnit, env: Pick<UnitEnv, 'net' | 'quantities' | 'options' | 'skipped'>, r: UnitResults, batches: number, N: number): UnitOutput {
  const o = env.options;
  const base = { unit: unit.id, checkpoint: unit.checkpoint.name, checkpoint_index: unit.checkpointIndex, dataset: unit.datasetName, batch_size: unit.batchSize };
  const summary = (t: Map<string, HostTensor>, loss: number) => summarize(t, loss, env.net.paramNames, env.quantities, o.topK);
  const rows: SweepRow[] = [];
  const tensors = new Map<string, HostTensor>();
  for (const { k, start, result } of r.perBatch) {
    rows.push({ ...base, batch: k, samples: result.N, first_sample: start, ...summary(result.results, result.loss) });
  }
  if (r.accumulated) {
    rows.push({ ...base, batch: 'all', samples: N, first_sample: 0, ...summary(r.accumulated.results, r.accumulated.loss) });
    // Accumulated tensors first: a unit's file then reads like a `run` output followed by its batches.
    if (o.tensors) for (const [key, t] of r.accumulated.results) tensors.set(key, t);
  }
  if (o.tensors) for (const { k, result } of r.perBatch) for (const [key, t] of result.results) tensors.set(`${batchPrefix(k)}${key}`, t);
  return { rows, tensors, batches, N, ...(o.skipUnsupported ? { skipped: env.skipped } : {}) };
}

/** Batches of the pass and its size, refusing a pass of no batch. */
export function unitPass(unit: SweepUnit, ds: Dataset, o: SweepOptions): { batches: number; N: number } {
  const pass = passSize(ds.size, unit.batchSize, o);
  if (pass.batches === 0) throw new UsageError(`${unit.id}: dataset '${unit.datasetName}' has ${ds.size} rows, fewer than one batch of ${unit.batchSize} (dropLast)`);
  return pass;
}

export async function computeUnit(unit: SweepUnit, ds: Dataset, env: UnitEnv): Promise<UnitOutput> {
  const o = env.options;
  const { batches, N } = unitPass(unit, ds, o);
  const accumulate = o.mode !== 'batches';
  if (accumulate) checkRowBytes(env, N, unit.id);
  const r: UnitResults = { perBatch: [], accumulated: null };
  const acc = accumulate ? new PartialsAccumulator() : null;
  let k = 0;
  for await (const b of ds.batches({ batchSize: unit.batchSize, shuffle: o.shuffle, seed: o.seed, dropLast: o.dropLast })) {
    if (k >= batches) break;
    const start = k * unit.batchSize;
    if (o.mode !== 'accumulate') r.perBatch.push({ k, start, result: await batchResult(b, env) });
    if (acc) acc.add(await slicePartials(b, start, N, env));
    k++;
  }
  if (acc) {
    const merged = acc.result();
    r.accumulated = { loss: merged.loss, results: finalize(merged, { N, paramNames: env.net.paramNames, extensions: env.quantities, reduction: env.net.loss.reduction, skip: skipKeys(env.skipped) }) };
  }
  return unitOutput(unit, env, r, batches, N);
}
