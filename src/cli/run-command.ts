/** `backpack-ts run`: the CLI contract (see docs/cli.md). Checks what it can up front, loads files, runs the job, writes results. */
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { checkSubsampling, type RunResult } from '../api/run.ts';
import { checkVectors } from '../api/vectors.ts';
import { chooseBackend } from '../backends/choose.ts';
import { useBackend } from '../backends/select.ts';
import { createPool } from '../coordinator/create-pool.ts';
import { createInProcessPool } from '../coordinator/in-process-pool.ts';
import type { WorkerPool } from '../coordinator/pool.ts';
import { defaultShardSize, runJobOnPool, runJobToFile, SHARDS_PER_WORKER } from '../coordinator/run-job.ts';
import { sliceRows } from '../core/inputs.ts';
import { UsageError } from '../errors/index.ts';
import { parseExtensionList } from '../extensions/index.ts';
import { describeSkipped, skippedPairs, type Unsupported } from '../extensions/support.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { writeResults, type Summary } from '../io/results.ts';
import { readTensorFile, readTensorInfo, readTensorMap, readTensorMapInfo } from '../io/tensor-file.ts';
import { checkNoExtraWeights } from '../nn/extra-weights.ts';
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
  /** Accept tensors in the weights file that the model does not use. */
  allowExtraWeights?: boolean;
  /** Kernel/BLAS threads per worker (native; default cores ÷ workers). */
  threadsPerWorker?: number;
  /** cuda: TF32 tensor-core GEMMs (BACKPACK_TF32=1 for this run and its workers). */
  tf32?: boolean;
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
  /** Leave out the (layer, quantity) pairs the modules cannot give, listing them, instead of refusing. */
  skipUnsupported?: boolean;
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
  // Workers (threads and processes) inherit the environment: that is how --tf32 reaches their devices.
  const tf32Before = process.env.BACKPACK_TF32;
  const tf32 = Boolean(opts.tf32) || (Boolean(tf32Before) && tf32Before !== '0');
  process.env.BACKPACK_TF32 = tf32 ? '1' : '0';
  try {
    return await runWithSettings(opts, tf32);
  } finally {
    if (tf32Before === undefined) delete process.env.BACKPACK_TF32;
    else process.env.BACKPACK_TF32 = tf32Before;
  }
}

async function runWithSettings(opts: RunCommandOptions, tf32: boolean): Promise<Summary> {
  const t0 = performance.now();
  const extensions = parseExtensionList(opts.extensions ?? '');
  if (opts.accumulate && !opts.batchSize) throw new UsageError('--accumulate needs --batch-size');
  const requested = opts.devices?.length ?? opts.workers ?? availableParallelism();
  // No more workers than give each its SHARDS_PER_WORKER shards of at least one sample: each worker
  // costs its start-up (~0.1 s of CPU), which a small job (12 samples on a 16-core machine) would
  // otherwise pay 16 times. N from the inputs' header; its errors are reported below, in their
  // turn. Devices are an explicit placement and are kept.
  const samples = await readTensorInfo(opts.inputs).then((i) => i.shape[0], () => undefined);
  const workers = opts.devices || requested === 0 || !samples ? requested : Math.min(requested, Math.ceil(samples / SHARDS_PER_WORKER));
  // An unavailable backend is the environment's problem, whatever the files: say so first.
  const chosen = await chooseBackend(opts.backend, workers, opts.threadsPerWorker);
  const { backend, threadsPerWorker: threads } = chosen;
  // Without workers this thread computes (with every thread); with them it only validates.
  await useBackend(backend, { threads: workers === 0 ? threads : 1 });
  // Then everything that headers, the spec and the options decide, before any data is read or
  // anything allocated: shapes, the memory the job needs, and the output directory.
  const spec = await readModelSpec(opts.model);
  const [inputsInfo, targetsInfo] = [await readTensorInfo(opts.inputs), await readTensorInfo(opts.targets)];
  const N = checkBatchShapes(spec, inputsInfo, targetsInfo, opts);
  checkSubsampling(opts.subsampling, N);
  // `!== undefined`: an empty --vectors is a bad path, not an absent option.
  const vectorsInfo = opts.vectors !== undefined ? await readTensorMapInfo(opts.vectors) : undefined;
  const poolKind = workers === 0 ? 'in-process' : opts.devices ? 'processes' : (opts.pool ?? 'threads');
  const batchSize = opts.batchSize ?? N;
  const perResult = opts.accumulate ? N : Math.min(N, batchSize);
  const memory = planMemory(spec, {
    extensions, N, resultN: perResult, backend, mcSamples: opts.mcSamples, subsampling: opts.subsampling,
    vectors: vectorsInfo?.values().next().value?.shape[0],
    shardSize: opts.shardSize ?? (opts.accumulate ? batchSize : undefined),
    plannedShardSize: opts.shardSize ?? (opts.accumulate ? batchSize : defaultShardSize(Math.min(N, batchSize), workers)),
    maxMemory: opts.maxMemory,
  });
  // With a budget, per-sample outputs are always streamed: the coordinator then holds sums only,
  // which is what the memory bound of docs/cli.md assumes.
  const streamAbove = opts.maxMemory !== undefined ? 0 : STREAM_ABOVE_BYTES;
  const rowBytesPerSample = memory.rowBytes / perResult;
  const streams = (samples: number) => opts.stream ?? samples * rowBytesPerSample > streamAbove;
  const streamed = (opts.accumulate || batchSize >= N) && streams(N);
  memory.requireJobFits(streamed, [{ what: 'inputs', bytes: inputsInfo.bytes }, { what: 'targets', bytes: targetsInfo.bytes }]);
  const out = await prepareOutDir(opts.out);
  try {
    // From the weights file's header, before any tensor is read.
    checkNoExtraWeights(spec, (await readTensorMapInfo(opts.weights)).keys(), opts.weights, opts.allowExtraWeights, '--allow-extra-weights');
    return await compute(opts, { t0, backend, library: chosen.library, threads, tf32: backend === 'cuda' && tf32, extensions, spec, N, batchSize, workers, poolKind, shardSize: memory.shardSize, streams });
  } catch (e) {
    await out.discard();
    throw e;
  }
}

interface Planned {
  t0: number;
  backend: BackendName;
  /** What the backend computes with, and each worker's threads (summary.json). */
  library: string;
  threads: number;
  /** cuda: whether GEMMs use TF32 tensor cores (summary.json). */
  tf32: boolean;
  extensions: ExtensionName[];
  spec: ModelSpec;
  N: number;
  batchSize: number;
  workers: number;
  poolKind: string;
  shardSize?: number;
  /** Whether a result of that many samples streams its per-sample outputs to disk. */
  streams: (samples: number) => boolean;
}

async function compute(opts: RunCommandOptions, p: Planned): Promise<Summary> {
  const weights = await readTensorMap(opts.weights);
  // Build once here: validates the spec and weights before any worker starts.
  const net = buildNetwork(p.spec, weights);
  let pool: WorkerPool | null = null;
  try {
    // A quantity a layer's record cannot give is refused here, before any worker starts, or listed.
    const skipped = skippedPairs(net.spec, p.extensions, opts.skipUnsupported);
    for (const s of skipped) log.warn(describeSkipped(s));
    const job: Loaded = { spec: p.spec, weights, inputs: await readTensorFile(opts.inputs), targets: await readTensorFile(opts.targets) };
    if (opts.vectors !== undefined) job.vectors = checkVectors(await readTensorMap(opts.vectors), net.paramShapes, opts.vectors);
    const t1 = performance.now();
    // --workers 0 runs its shards in this thread, through the same coordinator as the pools (shard-order
    // merging as results come, streaming, backpressure), so --max-memory bounds it the same way.
    pool = p.workers === 0 ? createInProcessPool() : createPool(p.poolKind as 'threads' | 'processes', p.workers, opts.devices);
    return await runLoaded(opts, p, net, job, pool, t1, skipped);
  } finally {
    await pool?.close();
    disposeNetwork(net);
  }
}

async function runLoaded(opts: RunCommandOptions, p: Planned, net: Network, job: Loaded, pool: WorkerPool, t1: number, skipped: Unsupported[]): Promise<Summary> {
  const { t0, backend, threads, extensions, N, batchSize, workers, poolKind, shardSize } = p;
  const settings = { extensions, shardSize, subsampling: opts.subsampling, seed: opts.seed, mcSamples: opts.mcSamples, vectors: job.vectors, skipUnsupported: opts.skipUnsupported };
  // Workers and coordinator reuse the network built above instead of building it again.
  const onPool = { ...settings, network: net, backend, threads, shardTimeoutMs: opts.shardTimeout, retries: opts.retries };
  const onRetry = (what: string, attempt: number, reason: string) => log.warn(`${what}: retry ${attempt} after: ${reason}`);
  // `write` runs while the bar still shows (its last state says the results are being merged and written).
  const run = async <T>(part: Loaded, label: string, write: (r: RunResult) => Promise<T>): Promise<T> => {
    const bar = progressBar(!opts.quiet, `${label}shards`);
    try {
      return await write(await runJobOnPool(pool, part, { ...onPool, onProgress: (q) => bar.update(q), onRetry }));
    } finally {
      bar.stop();
    }
  };
  // The model goes into summary.json: reports name layers and convert conventions with it.
  const common = { model: p.spec, backend, backendLibrary: p.library, threadsPerWorker: threads, tf32: p.tf32, extensions, workers, pool: poolKind, seed: opts.seed, mcSamples: opts.mcSamples ?? 1, subsampling: opts.subsampling ?? null, ...(opts.skipUnsupported ? { skipped } : {}) };
  // Per-sample outputs go to disk as shards arrive, then into the results file row by row.
  const stream = async (part: Loaded, dir: string, label: string, extra: Record<string, unknown>): Promise<Summary> => {
    const bar = progressBar(!opts.quiet, `${label}shards`);
    const resultsFile = path.join(dir, 'results.safetensors');
    try {
      const summary = await runJobToFile(pool, part, { ...onPool, onProgress: (q) => bar.update(q), onRetry }, dir, { ...common, ...extra });
      if (!Number.isFinite(summary.loss)) {
        // Streamed results are already on disk: a NaN run must not leave them looking valid.
        await Promise.all([rm(resultsFile, { force: true }), rm(path.join(dir, 'summary.json'), { force: true })]);
        checkFiniteLoss(summary.loss);
      }
      return summary;
    } finally {
      bar.stop();
    }
  };
  if ((opts.accumulate || batchSize >= N) && p.streams(N)) {
    const summary = await stream(job, opts.out, '', { batchSize: opts.accumulate ? batchSize : null, accumulated: Boolean(opts.accumulate) });
    log.info(`loss ${summary.loss.toPrecision(8)} over N=${N}; streamed results to ${path.join(opts.out, 'results.safetensors')}`);
    return summary;
  }
  if (opts.accumulate || batchSize >= N) {
    const { result, summary } = await run(job, '', async (result) => {
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
      return { result, summary };
    });
    log.info(`loss ${result.loss.toPrecision(8)} over N=${result.N}; wrote ${result.results.size} tensors to ${path.join(opts.out, 'results.safetensors')}`);
    return summary;
  }
  // One result per mini-batch, each with its own N (as BackPACK on that batch would give).
  const batches = [];
  for (let start = 0, b = 0; start < N; start += batchSize, b++) {
    const count = Math.min(batchSize, N - start);
    const dir = path.join(opts.out, `batch-${String(b).padStart(5, '0')}`);
    let loss: number;
    if (p.streams(count)) {
      loss = (await stream(batchOf(job, start, count), dir, `batch ${b}: `, { firstSample: start })).loss;
    } else {
      loss = await run(batchOf(job, start, count), `batch ${b}: `, async (result) => {
        checkFiniteResults(result.loss, result.results);
        await writeResults(dir, result.results, { ...common, loss: result.loss, N: count, shards: result.shards, firstSample: start, timings: result.timings });
        return result.loss;
      });
    }
    batches.push({ batch: b, firstSample: start, N: count, loss, dir: path.basename(dir) });
    log.info(`batch ${b}: loss ${loss.toPrecision(8)} over ${count} samples → ${dir}`);
  }
  const summary = { ...common, N, batchSize, batches, loss: batches.reduce((a, b) => a + b.loss * b.N, 0) / N, shards: batches.length, shapes: {}, timings: { totalMs: performance.now() - t0 } };
  await writeFileAtomic(path.join(opts.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary as unknown as Summary;
}
