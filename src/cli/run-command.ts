/** `backpack-ts run`: the CLI contract (see README). Loads files, runs the job, writes results. */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { runBatch, type RunResult } from '../api/run.ts';
import { checkVectors } from '../api/vectors.ts';
import { chooseBackend } from '../backends/choose.ts';
import { useBackend } from '../backends/select.ts';
import { createPool } from '../coordinator/create-pool.ts';
import { shardSizeFor } from '../coordinator/memory-plan.ts';
import { runJobOnPool, runJobToFile } from '../coordinator/run-job.ts';
import { numel } from '../io/host-tensor.ts';
import { COMBINES } from '../reduce/finalize.ts';
import { sliceRows } from '../core/inputs.ts';
import { UsageError } from '../errors/index.ts';
import { parseExtensionList } from '../extensions/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { writeResults, type Summary } from '../io/results.ts';
import { readTensorFile, readTensorMap } from '../io/tensor-file.ts';
import { buildNetwork, disposeNetwork } from '../nn/network.ts';
import { readModelSpec } from '../nn/parse-spec.ts';
import type { ModelSpec } from '../nn/spec.ts';
import { log } from './log.ts';
import { progressBar } from './progress.ts';

export interface RunCommandOptions {
  model: string;
  weights: string;
  inputs: string;
  targets: string;
  extensions?: string;
  out: string;
  backend: string;
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

async function load(opts: RunCommandOptions): Promise<Loaded> {
  const spec = await readModelSpec(opts.model);
  const weights = await readTensorMap(opts.weights);
  const inputs = await readTensorFile(opts.inputs);
  const targets = await readTensorFile(opts.targets);
  return { spec, weights, inputs, targets };
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
  const workers = opts.devices?.length ?? opts.workers ?? availableParallelism();
  const chosen = await chooseBackend(opts.backend, workers, opts.threadsPerWorker);
  const { backend, threadsPerWorker: threads } = chosen;
  // Without workers this thread computes (with every thread); with them it only validates.
  await useBackend(backend, { threads: workers === 0 ? threads : 1 });
  const job = await load(opts);
  // Build once here: validates the spec and weights before any worker starts.
  const net = buildNetwork(job.spec, job.weights);
  if (opts.vectors) job.vectors = checkVectors(await readTensorMap(opts.vectors), net.paramShapes, opts.vectors);
  const poolKind = workers === 0 ? 'in-process' : opts.devices ? 'processes' : (opts.pool ?? 'threads');
  const N = job.inputs.shape[0];
  const batchSize = opts.batchSize ?? N;
  if (opts.accumulate && !opts.batchSize) throw new UsageError('--accumulate needs --batch-size');
  let shardSize = opts.shardSize ?? (opts.accumulate ? batchSize : undefined);
  if (opts.maxMemory) shardSize = shardSizeFor(net, extensions, opts.maxMemory, shardSize ?? Math.ceil(Math.min(N, batchSize) / Math.max(1, workers)), opts.mcSamples);
  const settings = { extensions, shardSize, subsampling: opts.subsampling, seed: opts.seed, mcSamples: opts.mcSamples, vectors: job.vectors };
  // Workers and coordinator reuse the network built above instead of building it again.
  const onPool = { ...settings, network: net };
  const t1 = performance.now();
  const pool = workers === 0 ? null : createPool(poolKind as 'threads' | 'processes', workers, opts.devices);
  const run = async (part: Loaded, label: string): Promise<RunResult> => {
    if (!pool) return runBatch(net, part.inputs, part.targets, { ...settings, onShard: (done, total) => log.info(`${label}shard ${done}/${total} done`) });
    const bar = progressBar(!opts.quiet, `${label}shards`);
    try {
      return await runJobOnPool(pool, part, {
        ...onPool,
        backend,
        threads,
        shardTimeoutMs: opts.shardTimeout,
        retries: opts.retries,
        onProgress: (p) => bar.update(p),
        onRetry: (what, attempt, reason) => log.warn(`${what}: retry ${attempt} after: ${reason}`),
      });
    } finally {
      bar.stop();
    }
  };
  const common = { backend, backendLibrary: chosen.library, threadsPerWorker: threads, tf32: backend === 'cuda' && tf32, extensions, workers, pool: poolKind, seed: opts.seed, mcSamples: opts.mcSamples ?? 1, subsampling: opts.subsampling ?? null };
  try {
    const rowBytes = N * Object.values(net.paramShapes).reduce((a, sh) => a + numel(sh), 0) * 4 *
      extensions.filter((q) => COMBINES[q] === 'rows').length * Math.max(1, numel(net.outputShape), opts.mcSamples ?? 1);
    if (pool && (opts.accumulate || batchSize >= N) && (opts.stream ?? rowBytes > STREAM_ABOVE_BYTES)) {
      const bar = progressBar(!opts.quiet, 'shards');
      try {
        const summary = await runJobToFile(pool, job, {
          ...onPool, backend, threads, shardTimeoutMs: opts.shardTimeout, retries: opts.retries,
          onProgress: (p) => bar.update(p),
          onRetry: (what, attempt, reason) => log.warn(`${what}: retry ${attempt} after: ${reason}`),
        }, opts.out, { ...common, batchSize: opts.accumulate ? batchSize : null, accumulated: Boolean(opts.accumulate) });
        log.info(`loss ${summary.loss.toPrecision(8)} over N=${N}; streamed results to ${path.join(opts.out, 'results.safetensors')}`);
        return summary;
      } finally {
        bar.stop();
      }
    }
    if (opts.accumulate || batchSize >= N) {
      const result = await run(job, '');
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
      await writeResults(dir, result.results, { ...common, loss: result.loss, N: count, shards: result.shards, firstSample: start, timings: result.timings });
      batches.push({ batch: b, firstSample: start, N: count, loss: result.loss, dir: path.basename(dir) });
      log.info(`batch ${b}: loss ${result.loss.toPrecision(8)} over ${count} samples → ${dir}`);
    }
    const summary = { ...common, N, batchSize, batches, loss: batches.reduce((a, b) => a + b.loss * b.N, 0) / N, shards: batches.length, shapes: {}, timings: { totalMs: performance.now() - t0 } };
    await mkdir(opts.out, { recursive: true });
    await writeFile(path.join(opts.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    return summary as unknown as Summary;
  } finally {
    await pool?.close();
    disposeNetwork(net);
  }
}
