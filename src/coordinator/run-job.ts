/**
 * The coordinator: plans shards, dispatches them to a worker pool, gathers partials (each shard
 * counted once, keyed by shard id), reduces them in shard order in float64 and finalises once.
 * KFRA runs as groups of shards, one per worker, joined by a per-layer all-reduce.
 */
import { addKfraFactors, checkSubsampling, requireSequentialForKfra, type RunOptions, type RunResult } from '../api/run.ts';
import { skipKeys, skippedPairs, type Unsupported } from '../extensions/support.ts';
import { planShards } from '../core/backprop.ts';
import { checkedInputs, checkTargets } from '../core/inputs.ts';
import { kfraCapacity } from '../core/kfra.ts';
import { ShapeError, UsageError } from '../errors/index.ts';
import { buildNetwork, disposeNetwork, type Network } from '../nn/network.ts';
import type { GroupResult, KfraGroupTask, ShardResult, ShardTask, FaultInjection } from '../protocol/messages.ts';
import { finalize, finalizeStreaming } from '../extensions/finalize.ts';
import { createSpillDir, SPILL_PATTERN } from '../reduce/row-spill.ts';
import { RESULTS_FILE, writeResults, type Summary } from '../io/results.ts';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PartialsMerger, releaseMerged } from '../reduce/merge.ts';
import type { Partials, ShardPartials, ShardSpec } from '../core/partials.ts';
import type { BackendName } from '../vocabulary.ts';
import { createSharedBarrier } from '../worker/barrier.ts';
import { dispatch } from './dispatch.ts';
import { runInOrder } from './in-order.ts';
import { removeStale, temporary } from './temp-files.ts';
import { prepareJob, type JobTensors } from './job-context.ts';
import type { WorkerPool } from './pool.ts';

export interface Progress {
  shardsDone: number;
  shardsTotal: number;
  samplesDone: number;
  N: number;
  elapsedMs: number;
}

export interface PoolJobOptions extends Omit<RunOptions, 'onShard'> {
  backend: BackendName;
  /** Kernel/BLAS threads of each worker's backend (native; default 1). */
  threads?: number;
  /** Milliseconds of running time (not time queued) before a shard counts as hung (0 = never). */
  shardTimeoutMs?: number;
  /** Attempts after the first for a shard that failed non-deterministically. */
  retries?: number;
  onProgress?: (p: Progress) => void;
  onRetry?: (what: string, attempt: number, reason: string) => void;
  /** Test hooks for the failure tests: a fault, and a delay every shard attempt works before computing. */
  fault?: FaultInjection;
  delayMs?: number;
  /** Streaming: workers write per-sample rows to files in this directory; only references come back. */
  spillDir?: string;
  /**
   * The network already built (and so validated) from these tensors' spec and weights, e.g. by the
   * CLI: the coordinator then skips building its own copy, and leaves disposing it to the caller.
   */
  network?: Network;
  /** Aborts the job: its running tasks are stopped (threads terminated, processes killed), none is retried. */
  signal?: AbortSignal;
}

/**
 * Shards dispatched but not yet merged, per worker: enough to keep every worker busy while the
 * coordinator merges a result, and a bound on the results held (see docs/cli.md: Memory).
 */
export const WINDOW_PER_WORKER = 2;

/**
 * Shards each worker gets by default (when N allows): with one shard per worker a progress bar sits
 * at 0/W for the whole job and a slow worker holds the job up alone. More shards cost a little per
 * shard and change nothing else: the reducer adds partials in shard order, in float64.
 */
export const SHARDS_PER_WORKER = 4;

/** The default shard size: SHARDS_PER_WORKER shards per worker, at least one sample each. */
export function defaultShardSize(N: number, workers: number): number {
  return Math.max(1, Math.ceil(N / (SHARDS_PER_WORKER * Math.max(1, workers))));
}

/** Shards of `shardSize`, or the default plan over the pool's workers. */
export function shardPlan(N: number, workers: number, shardSize?: number): ShardSpec[] {
  const size = shardSize ?? defaultShardSize(N, workers);
  return planShards(N, size).map((s, shardId) => ({ shardId, ...s }));
}

/** Contiguous groups of shards, one per worker (KFRA's groups must all run at once). */
function groupShards(shards: ShardSpec[], groups: number): ShardSpec[][] {
  const out: ShardSpec[][] = Array.from({ length: Math.min(groups, shards.length) }, () => []);
  shards.forEach((s, i) => out[Math.floor((i * out.length) / shards.length)].push(s));
  return out;
}

/**
 * Part of a batch: the rows held are [rowOffset, rowOffset + rows) of a batch of N samples, and
 * only `shards` (global offsets) are computed. Queue workers use this for their share of a job.
 */
export interface BatchSlice {
  N: number;
  rowOffset: number;
  shards: ShardSpec[];
}

export interface CollectedPartials {
  merged: Partials;
  paramNames: string[];
  reduction: 'mean' | 'sum';
  shards: number;
  computeMs: number;
  /** (layer, quantity) pairs left out (--skip-unsupported). */
  skipped: Unsupported[];
}

export async function runJobOnPool(pool: WorkerPool, t: JobTensors, opts: PoolJobOptions): Promise<RunResult> {
  const c = await collectPartials(pool, t, opts);
  const t1 = performance.now();
  const N = t.inputs.shape[0];
  const out = finalize(c.merged, { N, paramNames: c.paramNames, extensions: opts.extensions, subsampling: opts.subsampling, reduction: c.reduction, skip: skipKeys(c.skipped) });
  // The results hold copies of the sums: their arrays go back to the pool (and on to the workers).
  releaseMerged([], c.merged);
  return { loss: c.merged.loss, N, results: out, shards: c.shards, timings: { computeMs: c.computeMs, reduceMs: performance.now() - t1 }, skipped: c.skipped };
}

/**
 * Streaming form: workers write per-sample rows to spill files in `outDir` as they finish a shard;
 * the results file is then written row by row from them, so the coordinator holds sums only.
 * Returns the summary written. The spill directory and a results file still being written are
 * removed on every exit path (temp-files.ts); spill directories that a killed earlier run left in
 * `outDir` are removed first.
 */
export async function runJobToFile(pool: WorkerPool, t: JobTensors, opts: PoolJobOptions, outDir: string, extra: Record<string, unknown>): Promise<Summary> {
  await mkdir(outDir, { recursive: true });
  removeStale(outDir, SPILL_PATTERN);
  const spillDir = createSpillDir(outDir);
  const releaseSpill = temporary(spillDir);
  // writeResults writes `<file>.partial`, then renames it: a crash or error leaves that behind.
  const releasePartial = temporary(path.join(outDir, `${RESULTS_FILE}.partial`));
  try {
    const c = await collectPartials(pool, t, { ...opts, spillDir });
    const N = t.inputs.shape[0];
    const t1 = performance.now();
    const out = finalizeStreaming(c.merged, { N, paramNames: c.paramNames, extensions: opts.extensions, subsampling: opts.subsampling, reduction: c.reduction, skip: skipKeys(c.skipped) });
    const summary = await writeResults(outDir, out, {
      // "skipped" only with --skip-unsupported, as every other summary.json.
      ...extra, loss: c.merged.loss, N, backend: opts.backend, extensions: opts.extensions, shards: c.shards, streamed: true, ...(opts.skipUnsupported ? { skipped: c.skipped } : {}),
      timings: { computeMs: c.computeMs, reduceAndWriteMs: performance.now() - t1 },
    });
    releaseMerged([], c.merged); // written: the sums' arrays go back to the pool
    return summary;
  } finally {
    releaseSpill();
    releasePartial();
  }
}

/** Runs the shards of a batch (or of a slice of it) on the pool and merges their partials in shard order. */
export async function collectPartials(pool: WorkerPool, t: JobTensors, opts: PoolJobOptions, slice?: BatchSlice): Promise<CollectedPartials> {
  const t0 = performance.now();
  const rows = t.inputs.shape[0];
  const N = slice?.N ?? rows;
  if (rows < 1) throw new UsageError('the batch is empty');
  if (t.targets.shape[0] !== rows) throw new ShapeError(`inputs have ${rows} samples but targets have ${t.targets.shape[0]}`);
  checkSubsampling(opts.subsampling, N);
  if (slice && opts.extensions.includes('KFRA')) throw new UsageError('KFRA averages over the whole batch at every layer and cannot run on a slice of it; run it in one job');
  // Validate everything that can be validated before any worker starts (fail fast, typed errors).
  const net = opts.network ?? buildNetwork(t.spec, t.weights);
  const release = () => {
    if (!opts.network) disposeNetwork(net);
  };
  const paramNames = net.paramNames;
  const layers = net.layers;
  let skipped: Unsupported[];
  try {
    checkedInputs(t.inputs, net.inputShape, 'inputs', slice?.rowOffset ?? 0);
    checkTargets(net, t.targets, slice?.rowOffset ?? 0);
    if (opts.extensions.includes('KFRA')) requireSequentialForKfra(net);
    skipped = skippedPairs(net.spec, opts.extensions, opts.skipUnsupported);
  } catch (e) {
    release();
    throw e;
  }
  const shards = slice?.shards ?? shardPlan(N, pool.size, opts.shardSize);
  const { job, cleanup } = prepareJob(pool.kind, t, {
    backend: opts.backend, threads: opts.threads ?? 1, extensions: opts.extensions, subsampling: opts.subsampling, seed: opts.seed ?? 0, mcSamples: opts.mcSamples ?? 1, spillDir: opts.spillDir,
    skip: skipKeys(skipped),
  }, undefined, { N, rowOffset: slice?.rowOffset ?? 0 });
  const jobAbort = new AbortController();
  // The caller's abort (a cancelled queue job) stops the job's tasks where they run.
  const onCallerAbort = () => jobAbort.abort();
  if (opts.signal?.aborted) onCallerAbort();
  opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
  // The shards are the job's alone (moved from their workers) and dropped once added.
  const merger = new PartialsMerger({ adopt: true, recycle: true });
  let samplesDone = 0;
  let shardsDone = 0;
  /** Folds the next shard (in shard order) into the running merge; a shard counts exactly once. */
  const record = (r: ShardPartials) => {
    merger.add(r);
    samplesDone += r.count;
    shardsDone++;
    opts.onProgress?.({ shardsDone, shardsTotal: shards.length, samplesDone, N, elapsedMs: performance.now() - t0 });
  };
  const dispatchOpts = (what: string, scale = 1) => ({
    timeoutMs: (opts.shardTimeoutMs ?? 0) * scale,
    retries: opts.retries ?? 2,
    jobSignal: jobAbort.signal,
    onRetry: (attempt: number, reason: string) => opts.onRetry?.(what, attempt, reason),
  });
  let kfra: Record<number, Float64Array> | null = null;
  try {
    if (opts.extensions.includes('KFRA')) {
      const groups = groupShards(shards, pool.size);
      const capacity = kfraCapacity(layers);
      const timeout = opts.shardTimeoutMs ?? 0;
      const barrier = pool.kind === 'threads'
        ? createSharedBarrier(groups.length, Math.max(...groups.map((g) => g.length)), capacity, timeout || 10 * 60_000)
        : { kind: 'messages' as const, id: job.jobId, groups: groups.length, timeoutMs: timeout };
      // NOTE: groups block on each other at the barrier, so one failure fails them all (no per-group retry).
      const replies = await Promise.all(groups.map(async (shardsOfGroup, group) => {
        const task: KfraGroupTask = { type: 'kfra-group', job, shards: shardsOfGroup, group, barrier };
        try {
          return (await dispatch(pool, task, `KFRA group ${group}`, { ...dispatchOpts(`KFRA group ${group}`, shardsOfGroup.length), retries: 0 })) as GroupResult;
        } catch (e) {
          jobAbort.abort();
          throw e;
        }
      }));
      for (const reply of replies) reply.results.forEach(record);
      kfra = replies[0].kfra;
    } else {
      // Backpressure: no more shards in flight or waiting to be merged than the window holds.
      await runInOrder(shards.length, WINDOW_PER_WORKER * pool.size, async (i) => {
        const shard = shards[i];
        const task: ShardTask = { type: 'shard', job, shard, fault: opts.fault, delayMs: opts.delayMs };
        try {
          return (await dispatch(pool, task, `shard ${shard.shardId}`, dispatchOpts(`shard ${shard.shardId}`))) as ShardResult;
        } catch (e) {
          jobAbort.abort(); // stop the other shards of this job; the pool keeps serving
          throw e;
        }
      }, (_i, r) => record(r));
    }
    const merged = merger.result();
    if (kfra) addKfraFactors(net, merged, new Map(Object.entries(kfra).map(([k, v]) => [Number(k), v])));
    return { merged, paramNames, reduction: net.loss.reduction, shards: shards.length, computeMs: performance.now() - t0, skipped };
  } finally {
    opts.signal?.removeEventListener('abort', onCallerAbort);
    cleanup();
    release();
  }
}
