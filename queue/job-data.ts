/**
 * Deleting a job's data without patterns. Every blob key written for a job (tensor, partials and
 * result headers and their chunks) is added to the job's `blobs` set BEFORE it is written, so the
 * set names every key that may exist; deletion unlinks exactly those. The set lives in Redis, so
 * anyone could have added to it: a member is deleted only if it lies under this job's own key and
 * is of a kind being deleted — never another job's key, never the descriptor or the summary.
 */
import type { Redis } from 'ioredis';
import type { QueueContext } from './context.ts';

/** Blob kinds: uploaded tensors, shard partials, results kept in Redis. */
export type BlobKind = 't' | 'p' | 'r';

const UNLINK_BATCH = 500;

/** Records keys about to be written for a job (before writing them: a crash leaves no unnamed key). */
export async function recordBlobKeys(redis: Redis, registry: string, keys: string[], ttlSeconds: number): Promise<void> {
  await redis.multi().sadd(registry, ...keys).expire(registry, ttlSeconds).exec();
}

/** Unlinks the job's recorded blobs of the given kinds; returns how many keys were removed. */
export async function deleteJobData(ctx: QueueContext, jobId: string, kinds: readonly BlobKind[] = ['t', 'p']): Promise<number> {
  const registry = ctx.keys.blobs(jobId);
  const own = kinds.map((k) => `${ctx.keys.job(jobId)}:${k}:`);
  const members = await ctx.redis.smembers(registry);
  const doomed = members.filter((m) => own.some((prefix) => m.startsWith(prefix) && m.length > prefix.length));
  let n = 0;
  for (let i = 0; i < doomed.length; i += UNLINK_BATCH) {
    const batch = doomed.slice(i, i + UNLINK_BATCH);
    n += await ctx.redis.unlink(...batch);
    await ctx.redis.srem(registry, ...batch);
  }
  return n;
}

/** Everything a job keeps in Redis, by exact key (a submit that failed midway, before its flow existed). */
export async function deleteWholeJob(ctx: QueueContext, jobId: string): Promise<void> {
  await deleteJobData(ctx, jobId, ['t', 'p', 'r']);
  const k = ctx.keys;
  await ctx.redis.unlink(k.desc(jobId), k.meta(jobId), k.done(jobId), k.stop(jobId), k.summary(jobId), k.blobs(jobId));
}
