/** `backpack-ts run`: the CLI contract (see README). Checks what it can up front, loads files, runs the job, writes results. */
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { checkSubsampling, runBatch, type RunResult } from '../api/run.ts';
import { checkVectors } from '../api/vectors.ts';
import { useBackend } from '../backends/select.ts';
import { createPool } from '../coordinator/create-pool.ts';
import type { WorkerPool } from '../coordinator/pool.ts';
import { runJobOnPool, runJobToFile } from '../coordinator/run-job.ts';
import { sliceRows } from '../core/inputs.ts';
import { UsageError } from '../errors/index.ts';
import { parseExtensionList } from '../extensions/index.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { writeResults, type Summary } from '../io/results.ts';
import { readTensorFile, readTensorInfo, readTensorMap, readTensorMapInfo } from '../io/tensor-file.ts';
import { buildNetwork, disposeNetwork, type Network } from '../nn/network.ts';
import { readModelSpec } from '../nn/parse-spec.ts';
import type { ModelSpec } from '../nn/spec.ts';
import type { BackendName, ExtensionName } from '../vocabulary.ts';
import { checkFiniteLoss, checkFiniteResults } from './finite-results.ts';
import { log } from './log.ts';
import { prepareOutDir } from './out-dir.ts';
import { progressBar } from './progress.ts';
import { checkBatchShapes, planMemory } from './run-plan.ts';

export interface RunCommandOptions {
  model: string;
  weights: string;
  inputs: string;
  targets: string;
  extensions?: string;
  out: string;
  backend: string;
  shardSize?: number;
  seed: number;
  subsampling?: number[];
  mcSamples?: number;
  vectors?: string;
  /** 0 runs every shard in this process; W ≥ 1 uses a pool of W workers. */
  workers?: number;
  pool?: 'threads' | 'processes';
  devices?: number[];
  shardTimeout?: number;
  retries?: number;
  quiet?: boolean;
  /** Bytes a worker may use for one shard; shards are cut to fit. */
  maxMemory?: number;
  /** Split the inputs into mini-batches of this size (the last may be smaller). */
  batchSize?: number;
  /** With --batch-size: one exact result over all samples, streamed in mini-batch-sized shards. */
  accumulate?: boolean;
  /** Write per-sample outputs into the results file as shards arrive (default: when they are large). */
  stream?: boolean;
}

/** Per-sample outputs above this size are streamed to disk rather than held in memory. */
const STREAM_ABOVE_BYTES = 512 * 2 ** 20;

interface Loaded {
  spec: ModelSpec;
  weights: Map<string, HostTensor>;
  inputs: HostTensor;
  targets: HostTensor;
  vectors?: Map<string, HostTensor>;
}

/** Rows [start, start+count) of every per-sample tensor of the job. */
function batchOf(job: Loaded, start: number, count: number): Loaded {
  return { ...job, inputs: sliceRows(job.inputs, start, count), targets: sliceRows(job.targets, start, count) };
}

export async function runCommand(opts: RunCommandOptions): Promise<Summary> {
  const t0 = performance.now();
  const extensions = parseExtensionList(opts.extensions ?? '');
  if (opts.accumulate && !opts.batchSize) throw new UsageError('--accumulate needs --batch-size');
  // An unavailable backend is the environment's problem, whatever the files: say so first.
  const backend = await useBackend(opts.backend);
  // Then everything that headers, the spec and the options decide, before any data is read or
  // anything allocated: shapes, the memory the job needs, and the output directory.
  const spec = await readModelSpec(opts.model);
  const [inputsInfo, targetsInfo] = [await readTensorInfo(opts.inputs), await readTensorInfo(opts.targets)];
  const N = checkBatchShapes(spec, inputsInfo, targetsInfo, opts);
  checkSubsampling(opts.subsampling, N);
  // `!== undefined`: an empty --vectors is a bad path, not an absent option.
  const vectorsInfo = opts.vectors !== undefined ? await readTensorMapInfo(opts.vectors) : undefined;
  const workers = opts.devices?.length ?? opts.workers ?? availableParallelism();
  const poolKind = workers === 0 ? 'in-process' : opts.devices ? 'processes' : (opts.pool ?? 'threads');
  const batchSize = opts.batchSize ?? N;
  const perResult = opts.accumulate ? N : Math.min(N, batchSize);
  const memory = planMemory(spec, {
    extensions, N, resultN: perResult, backend: opts.backend, mcSamples: opts.mcSamples, subsampling: opts.subsampling,
    vectors: vectorsInfo?.values().next().value?.shape[0],
    shardSize: opts.shardSize ?? (opts.accumulate ? batchSize : undefined),
    plannedShardSize: opts.shardSize ?? (opts.accumulate ? batchSize : Math.ceil(Math.min(N, batchSize) / Math.max(1, workers))),
    maxMemory: opts.maxMemory,
  });
  const streamed = workers > 0 && (opts.accumulate || batchSize >= N) && (opts.stream ?? memory.rowBytes > STREAM_ABOVE_BYTES);
  memory.requireJobFits(streamed, [{ what: 'inputs', bytes: inputsInfo.bytes }, { what: 'targets', bytes: targetsInfo.bytes }]);
  const out = await prepareOutDir(opts.out);
  try {
    return await compute(opts, { t0, backend, extensions, spec, N, batchSize, workers, poolKind, shardSize: memory.shardSize, streamed });
  } catch (e) {
    await out.discard();
    throw e;
  }
}

interface Planned {
  t0: number;
  backend: BackendName;
  extensions: ExtensionName[];
  spec: ModelSpec;
  N: number;
  batchSize: number;
  workers: number;
  poolKind: string;
  shardSize?: number;
  streamed: boolean;
}

async function compute(opts: RunCommandOptions, p: Planned): Promise<Summary> {
  const weights = await readTensorMap(opts.weights);
  // Build once here: validates the spec and weights before any worker starts.
  const net = buildNetwork(p.spec, weights);
  let pool: WorkerPool | null = null;
  try {
    const job: Loaded = { spec: p.spec, weights, inputs: await readTensorFile(opts.inputs), targets: await readTensorFile(opts.targets) };
    if (opts.vectors !== undefined) job.vectors = checkVectors(await readTensorMap(opts.vectors), net.paramShapes, opts.vectors);
    const t1 = performance.now();
    pool = p.workers === 0 ? null : createPool(p.poolKind as 'threads' | 'processes', p.workers, opts.devices);
    return await runLoaded(opts, p, net, job, pool, t1);
  } finally {
    await pool?.close();
    disposeNetwork(net);
  }
}

async function runLoaded(opts: RunCommandOptions, p: Planned, net: Network, job: Loaded, pool: WorkerPool | null, t1: number): Promise<Summary> {
  const { t0, backend, extensions, N, batchSize, workers, poolKind, shardSize } = p;
  const settings = { extensions, shardSize, subsampling: opts.subsampling, seed: opts.seed, mcSamples: opts.mcSamples, vectors: job.vectors };
  // Workers and coordinator reuse the network built above instead of building it again.
  const onPool = { ...settings, network: net };
  const run = async (part: Loaded, label: string): Promise<RunResult> => {
    if (!pool) return runBatch(net, part.inputs, part.targets, { ...settings, onShard: (done, total) => log.info(`${label}shard ${done}/${total} done`) });
    const bar = progressBar(!opts.quiet, `${label}shards`);
    try {
      return await runJobOnPool(pool, part, {
        ...onPool,
        backend,
        shardTimeoutMs: opts.shardTimeout,
        retries: opts.retries,
        onProgress: (p) => bar.update(p),
        onRetry: (what, attempt, reason) => log.warn(`${what}: retry ${attempt} after: ${reason}`),
      });
    } finally {
      bar.stop();
    }
  };
  const common = { backend, extensions, workers, pool: poolKind, seed: opts.seed, mcSamples: opts.mcSamples ?? 1, subsampling: opts.subsampling ?? null };
  if (pool && p.streamed) {
    const bar = progressBar(!opts.quiet, 'shards');
    const resultsFile = path.join(opts.out, 'results.safetensors');
    try {
      const summary = await runJobToFile(pool, job, {
        ...onPool, backend, shardTimeoutMs: opts.shardTimeout, retries: opts.retries,
        onProgress: (p) => bar.update(p),
        onRetry: (what, attempt, reason) => log.warn(`${what}: retry ${attempt} after: ${reason}`),
      }, opts.out, { ...common, batchSize: opts.accumulate ? batchSize : null, accumulated: Boolean(opts.accumulate) });
      if (!Number.isFinite(summary.loss)) {
        // Streamed results are already on disk: a NaN run must not leave them looking valid.
        await Promise.all([rm(resultsFile, { force: true }), rm(path.join(opts.out, 'summary.json'), { force: true })]);
        checkFiniteLoss(summary.loss);
      }
      log.info(`loss ${summary.loss.toPrecision(8)} over N=${N}; streamed results to ${resultsFile}`);
      return summary;
    } finally {
      bar.stop();
    }
  }
  if (opts.accumulate || batchSize >= N) {
    const result = await run(job, '');
    checkFiniteResults(result.loss, result.results);
    const t2 = performance.now();
    const summary = await writeResults(opts.out, result.results, {
      ...common,
      loss: result.loss,
      N: result.N,
      shards: result.shards,
      batchSize: opts.accumulate ? batchSize : null,
      accumulated: Boolean(opts.accumulate),
      timings: { loadMs: t1 - t0, computeMs: result.timings.computeMs, reduceMs: result.timings.reduceMs, totalMs: t2 - t0 },
    });
    log.info(`loss ${result.loss.toPrecision(8)} over N=${result.N}; wrote ${result.results.size} tensors to ${path.join(opts.out, 'results.safetensors')}`);
    return summary;
  }
  // One result per mini-batch, each with its own N (as BackPACK on that batch would give).
  const batches = [];
  for (let start = 0, b = 0; start < N; start += batchSize, b++) {
    const count = Math.min(batchSize, N - start);
    const dir = path.join(opts.out, `batch-${String(b).padStart(5, '0')}`);
    const result = await run(batchOf(job, start, count), `batch ${b}: `);
    checkFiniteResults(result.loss, result.results);
    await writeResults(dir, result.results, { ...common, loss: result.loss, N: count, shards: result.shards, firstSample: start, timings: result.timings });
    batches.push({ batch: b, firstSample: start, N: count, loss: result.loss, dir: path.basename(dir) });
    log.info(`batch ${b}: loss ${result.loss.toPrecision(8)} over ${count} samples → ${dir}`);
  }
  const summary = { ...common, N, batchSize, batches, loss: batches.reduce((a, b) => a + b.loss * b.N, 0) / N, shards: batches.length, shapes: {}, timings: { totalMs: performance.now() - t0 } };
  await writeFileAtomic(path.join(opts.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary as unknown as Summary;
}
