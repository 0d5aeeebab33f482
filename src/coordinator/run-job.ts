/**
 * The coordinator: plans shards, dispatches them to a worker pool, gathers partials (each shard
 * counted once, keyed by shard id), reduces them in shard order in float64 and finalises once.
 * KFRA runs as groups of shards, one per worker, joined by a per-layer all-reduce.
 */
import { addKfraFactors, checkSubsampling, type RunOptions, type RunResult } from '../api/run.ts';
import { planShards } from '../core/backprop.ts';
import { checkedInputs, checkTargets } from '../core/inputs.ts';
import { kfraCapacity } from '../core/kfra.ts';
import { UsageError } from '../errors/index.ts';
import { buildNetwork, disposeNetwork } from '../nn/network.ts';
import type { GroupResult, KfraGroupTask, ShardResult, ShardSpec, ShardTask, FaultInjection } from '../protocol/messages.ts';
import { finalize } from '../reduce/finalize.ts';
import { mergePartials } from '../reduce/merge.ts';
import type { ShardPartials } from '../reduce/partials.ts';
import type { BackendName } from '../vocabulary.ts';
import { createSharedBarrier } from '../worker/barrier.ts';
import { dispatch } from './dispatch.ts';
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
  /** Milliseconds before a shard counts as hung (0 = never). */
  shardTimeoutMs?: number;
  /** Attempts after the first for a shard that failed non-deterministically. */
  retries?: number;
  onProgress?: (p: Progress) => void;
  onRetry?: (what: string, attempt: number, reason: string) => void;
  /** Test hook for the failure tests. */
  fault?: FaultInjection;
}

/** Shards of `shardSize`, or an even split over the pool's workers. */
export function shardPlan(N: number, workers: number, shardSize?: number): ShardSpec[] {
  const size = shardSize ?? Math.ceil(N / workers);
  return planShards(N, size).map((s, shardId) => ({ shardId, ...s }));
}

/** Contiguous groups of shards, one per worker (KFRA's groups must all run at once). */
function groupShards(shards: ShardSpec[], groups: number): ShardSpec[][] {
  const out: ShardSpec[][] = Array.from({ length: Math.min(groups, shards.length) }, () => []);
  shards.forEach((s, i) => out[Math.floor((i * out.length) / shards.length)].push(s));
  return out;
}

export async function runJobOnPool(pool: WorkerPool, t: JobTensors, opts: PoolJobOptions): Promise<RunResult> {
  const t0 = performance.now();
  const N = t.inputs.shape[0];
  if (N < 1) throw new UsageError('the batch is empty');
  if (t.targets.shape[0] !== N) throw new UsageError(`inputs have ${N} samples but targets have ${t.targets.shape[0]}`);
  checkSubsampling(opts.subsampling, N);
  // Validate everything that can be validated before any worker starts (fail fast, typed errors).
  const net = buildNetwork(t.spec, t.weights);
  const paramNames = net.paramNames;
  const layers = net.layers;
  try {
    checkedInputs(t.inputs, net.inputShape, 'inputs');
    checkTargets(net, t.targets);
  } catch (e) {
    disposeNetwork(net);
    throw e;
  }
  const shards = shardPlan(N, pool.size, opts.shardSize);
  const { job, cleanup } = prepareJob(pool.kind, t, {
    backend: opts.backend, extensions: opts.extensions, subsampling: opts.subsampling, seed: opts.seed ?? 0, mcSamples: opts.mcSamples ?? 1,
  });
  const jobAbort = new AbortController();
  const results = new Map<number, ShardPartials>();
  let samplesDone = 0;
  const record = (r: ShardResult) => {
    if (results.has(r.shardId)) return; // a shard is counted exactly once
    results.set(r.shardId, r);
    samplesDone += r.count;
    opts.onProgress?.({ shardsDone: results.size, shardsTotal: shards.length, samplesDone, N, elapsedMs: performance.now() - t0 });
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
      await Promise.all(shards.map(async (shard) => {
        const task: ShardTask = { type: 'shard', job, shard, fault: opts.fault };
        try {
          record((await dispatch(pool, task, `shard ${shard.shardId}`, dispatchOpts(`shard ${shard.shardId}`))) as ShardResult);
        } catch (e) {
          jobAbort.abort(); // stop the other shards of this job; the pool keeps serving
          throw e;
        }
      }));
    }
    const t1 = performance.now();
    const merged = mergePartials([...results.values()]);
    if (kfra) addKfraFactors(net, merged, new Map(Object.entries(kfra).map(([k, v]) => [Number(k), v])));
    const out = finalize(merged, { N, paramNames, extensions: opts.extensions, subsampling: opts.subsampling, reduction: net.loss.reduction });
    return { loss: merged.loss, N, results: out, shards: shards.length, timings: { computeMs: t1 - t0, reduceMs: performance.now() - t1 } };
  } finally {
    cleanup();
    disposeNetwork(net);
  }
}
