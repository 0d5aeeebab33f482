/**
 * `backpack-ts cancel ID`: cancels a job unless its final reduce has begun. Whether cancel or the
 * reduce wins is decided in one Redis script (job-state.ts): a cancel that wins writes the stop
 * record, then removes at once every shard no worker holds (queued shards never start), and frees
 * the job's tensors, partials and per-batch results. Shards that are running see the stop record
 * within half a second and stop where they compute (their local task is aborted), failing
 * unrecoverably, never retried. A cancel that loses changes nothing and says what won. Other jobs
 * are untouched.
 */
import { log } from '../src/log.ts';
import { JobNotFoundError, JobStateError } from '../src/errors/queue-errors.ts';
import type { QueueContext } from './context.ts';
import { readDescriptor } from './descriptor.ts';
import { deleteJobData } from './job-data.ts';
import { checkJobId } from './job-id.ts';
import { markCancelled } from './job-state.ts';
import { batchJobId, shardJobId } from './keys.ts';
import { cancelledRecord } from './worker-context.ts';

/** Removals sent to Redis at once. */
const REMOVE_BATCH = 64;

export interface CancelOutcome {
  /** The whole flow (root, batches, shards) is gone: nothing of it was running. */
  removed: boolean;
  /** Shards removed before they started. */
  queuedRemoved: number;
  /** Shards a worker held: they stop within a second. */
  running: number;
}

export async function cancelJob(ctx: QueueContext, jobId: string): Promise<CancelOutcome> {
  checkJobId(jobId, 'cancel');
  const outcome = await markCancelled(ctx, jobId, JSON.stringify(cancelledRecord(jobId)));
  if (outcome === 'missing') throw new JobNotFoundError(`no job '${jobId}' in queue '${ctx.settings.queue}' (prefix '${ctx.settings.prefix}'): never submitted here, or expired`);
  if (outcome === 'reducing') throw new JobStateError(`job ${jobId} is already reducing its results; too late to cancel (it will complete)`);
  if (outcome !== 'cancelled') throw new JobStateError(`job ${jobId} is already ${outcome}; nothing to cancel`);
  // The shards by id, from the job's own plan: each one no worker holds goes now (Queue.remove
  // answers 0 for a locked job instead of failing; its worker stops it on the stop record).
  const { desc } = await readDescriptor(ctx, jobId);
  const shardIds = desc.batches.flatMap((b) => b.shards.map((_, s) => shardJobId(jobId, b.batch, s)));
  let queuedRemoved = 0;
  for (let i = 0; i < shardIds.length; i += REMOVE_BATCH) {
    const batch = shardIds.slice(i, i + REMOVE_BATCH);
    const states = await Promise.all(batch.map((id) => ctx.queue.getJobState(id)));
    const removed = await Promise.all(batch.map((id, j) => (states[j] === 'active' || states[j] === 'unknown' ? 0 : ctx.queue.remove(id, { removeChildren: false }))));
    queuedRemoved += removed.reduce<number>((a, r) => a + r, 0);
  }
  const running = (await Promise.all(shardIds.map((id) => ctx.queue.getJobState(id)))).filter((s) => s === 'active').length;
  // The flow's parents (per-batch reduces and the root) go too once no shard of it runs.
  let removed = false;
  if (running === 0) {
    const parents = desc.batches.length > 1 ? desc.batches.map((b) => batchJobId(jobId, b.batch)) : [];
    for (const id of [...parents, jobId]) await ctx.queue.remove(id, { removeChildren: true });
    removed = true;
  }
  await deleteJobData(ctx, jobId, ['t', 'p', 'r']);
  log.info(`job ${jobId}: cancelled; ${queuedRemoved} queued shard(s) removed${running ? `, ${running} running shard(s) stop within a second` : ''}`);
  return { removed, queuedRemoved, running };
}
