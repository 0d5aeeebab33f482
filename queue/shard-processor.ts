/**
 * One queue shard on this worker's local pool: rows [offset, offset + count) of a batch, computed
 * as one task of the pool (collectPartials over a BatchSlice: global sample offsets, the batch's N),
 * then stored in Redis as binary partials. A shard already stored (a redelivery after a stall) is
 * not computed again: its first result counts.
 *
 * NOTE: a queue shard is never split over the local workers: the job's plan alone then fixes what
 * is computed together and the order partials are added in, so a job's results are bitwise those of
 * `backpack-ts run --shard-size shardSize`, whatever each worker's number of local threads. The
 * local workers take different shards at once instead (the worker's --concurrency, default: as many
 * as it has local workers). KFRA, one shard per batch, runs on the pool with a fixed local plan.
 *
 * The main thread stays free while the pool computes (the pool's threads or processes do the
 * work), so BullMQ's lock renewal keeps the shard's lock however long it runs (`--lock-duration`
 * bounds silence, not the length of a shard; test/queue/faults.test.ts checks both).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { collectPartials, type CollectedPartials, type PoolJobOptions } from '../src/coordinator/run-job.ts';
import type { JobTensors } from '../src/coordinator/job-context.ts';
import { log } from '../src/log.ts';
import { requireShardFits } from '../src/nn/memory-budget.ts';
import type { QueueJobData } from './job-schema.ts';
import type { LoadedJob } from './job-cache.ts';
import { storedShard, storePartials, type ShardReturn } from './partials-store.ts';
import { deleteBlob } from './tensor-store.ts';
import type { WorkerContext } from './worker-context.ts';

export type ShardData = Extract<QueueJobData, { kind: 'shard' }>;

/** KFRA's shard (a whole batch) runs as this many local shards, whatever the pool's size (bitwise the same on any worker). */
const KFRA_LOCAL_SHARDS = 16;

/**
 * Progress counts each shard once, whichever delivery stored it (one script: no half-counted shard).
 * Nothing is counted for a job without its meta hash (expired), so no key is created without a TTL.
 */
const COUNT_ONCE = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'shardsDone', 1)
  redis.call('HINCRBY', KEYS[2], 'samplesDone', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0`;

/** `job` is the loaded job this shard belongs to; `d` was checked against its plan (queue-job.ts). */
export async function runShard(w: WorkerContext, job: LoadedJob, d: ShardData): Promise<ShardReturn> {
  const { ctx } = w;
  const key = ctx.keys.partial(d.jobId, d.batch, d.shard);
  const stored = await storedShard(ctx.redis, key, d);
  if (stored) return stored;
  const t0 = performance.now();
  const { desc } = job;
  const b = desc.batches[d.batch];
  const label = `job ${d.jobId} batch ${d.batch} shard ${d.shard}`;
  log.info(`${label}: started (${d.count} samples)`);
  const kfra = job.extensions.includes('KFRA');
  const localShard = kfra ? Math.ceil(d.count / KFRA_LOCAL_SHARDS) : d.count;
  // One local worker computes the shard (KFRA: one of its local shards): it must fit this worker's budget.
  requireShardFits(job.spec, {
    extensions: job.extensions, N: b.N, mcSamples: desc.mcSamples, vectors: job.vectors?.values().next().value?.shape[0],
    rows: desc.subsampling?.length, backend: desc.backend, maxMemory: w.opts.maxMemoryBytes,
  }, localShard);
  const tensors: JobTensors = {
    spec: job.spec,
    weights: job.weights,
    vectors: job.vectors,
    inputs: await job.rows('inputs', b.start + d.offset, d.count),
    targets: await job.rows('targets', b.start + d.offset, d.count),
  };
  const opts: PoolJobOptions = {
    backend: desc.backend, extensions: job.extensions, subsampling: desc.subsampling, seed: desc.seed, mcSamples: desc.mcSamples,
    // The pairs the descriptor lists, checked to be exactly those the records refuse: the pool leaves out the same ones.
    skipUnsupported: job.skipped !== undefined,
    shardTimeoutMs: w.opts.shardTimeoutMs, retries: w.opts.retries,
    onRetry: (what, attempt, reason) => log.warn(`${label}: ${what}: retry ${attempt} after: ${reason}`),
  };
  // `signal` aborts when the job is stopped (cancelled, or failed elsewhere): the pool's task stops too.
  const compute = async (signal: AbortSignal): Promise<CollectedPartials> => {
    if (w.opts.debugShardDelayMs) await sleep(w.opts.debugShardDelayMs, undefined, { signal });
    // KFRA: submit allows it only with one shard per batch; the local pool runs its all-reduce.
    if (kfra) return collectPartials(w.pool, tensors, { ...opts, shardSize: localShard, signal });
    return collectPartials(w.pool, tensors, { ...opts, signal }, { N: b.N, rowOffset: d.offset, shards: [{ shardId: 0, offset: d.offset, count: d.count }] });
  };
  const c = await w.untilStopped(d.jobId, compute);
  const info: ShardReturn = { batch: d.batch, shard: d.shard, offset: d.offset, count: d.count, loss: c.merged.loss };
  await storePartials(ctx.redis, key, info, c.merged, { paramNames: c.paramNames, reduction: c.reduction }, { ttlSeconds: desc.ttlSeconds, chunkBytes: w.opts.chunkBytes, registry: ctx.keys.blobs(d.jobId) });
  // Written, then checked: a cancel that deleted the job's data before this write is seen here,
  // and the partials it could not see are removed (else they would outlive the cancelled job).
  const stop = await w.stopRecord(d.jobId);
  if (stop) {
    await deleteBlob(ctx.redis, key);
    await w.throwIfStopped(d.jobId);
  }
  await ctx.redis.eval(COUNT_ONCE, 2, ctx.keys.done(d.jobId), ctx.keys.meta(d.jobId), `${d.batch}:${d.shard}`, d.count, desc.ttlSeconds);
  log.info(`${label}: done in ${(performance.now() - t0).toFixed(0)} ms`);
  return info;
}
