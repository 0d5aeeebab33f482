/**
 * `backpack-ts cancel ID`: sets the job's stop record (every worker's shard of it gives up within
 * half a second and fails unrecoverably, never retried), removes the flow's jobs that no worker
 * holds, and frees the job's tensors and partials. Other jobs are untouched.
 */
import { log } from '../src/cli/log.ts';
import { JobStateError } from '../src/errors/queue-errors.ts';
import { deleteJobData, type QueueContext } from './context.ts';
import { jobStatus } from './status.ts';
import { cancelledRecord } from './worker-context.ts';

export async function cancelJob(ctx: QueueContext, jobId: string): Promise<{ removed: boolean }> {
  const s = await jobStatus(ctx, jobId);
  if (s.state === 'completed' || s.state === 'failed' || s.state === 'cancelled') {
    throw new JobStateError(`job ${jobId} is already ${s.state}; nothing to cancel`);
  }
  const ttl = await ctx.redis.ttl(ctx.keys.meta(jobId));
  await ctx.redis.set(ctx.keys.stop(jobId), JSON.stringify(cancelledRecord(jobId)), 'EX', ttl > 0 ? ttl : 24 * 3600);
  await ctx.redis.hset(ctx.keys.meta(jobId), 'finishedAt', Date.now());
  let removed = false;
  const root = await ctx.queue.getJob(jobId);
  try {
    // Fails while a worker holds one of the flow's jobs: those fail by themselves on the stop record.
    await root?.remove({ removeChildren: true });
    removed = Boolean(root);
  } catch (e) {
    log.info(`job ${jobId}: some shards are running; they stop within a second (${(e as Error).message})`);
  }
  await deleteJobData(ctx, jobId);
  return { removed };
}
