/**
 * `backpack-ts cancel ID`: cancels a job unless its final reduce has begun. Whether cancel or the
 * reduce wins is decided in one Redis script (job-state.ts): a cancel that wins writes the stop
 * record (every worker's shard of the job gives up within half a second and fails unrecoverably,
 * never retried), removes the flow's jobs that no worker holds and frees the job's tensors,
 * partials and per-batch results; a cancel that loses changes nothing and says what won.
 * Other jobs are untouched.
 */
import { log } from '../src/log.ts';
import { JobNotFoundError, JobStateError } from '../src/errors/queue-errors.ts';
import type { QueueContext } from './context.ts';
import { deleteJobData } from './job-data.ts';
import { checkJobId } from './job-id.ts';
import { markCancelled } from './job-state.ts';
import { cancelledRecord } from './worker-context.ts';

export async function cancelJob(ctx: QueueContext, jobId: string): Promise<{ removed: boolean }> {
  checkJobId(jobId, 'cancel');
  const outcome = await markCancelled(ctx, jobId, JSON.stringify(cancelledRecord(jobId)));
  if (outcome === 'missing') throw new JobNotFoundError(`no job '${jobId}' in queue '${ctx.settings.queue}' (prefix '${ctx.settings.prefix}'): never submitted here, or expired`);
  if (outcome === 'reducing') throw new JobStateError(`job ${jobId} is already reducing its results; too late to cancel (it will complete)`);
  if (outcome !== 'cancelled') throw new JobStateError(`job ${jobId} is already ${outcome}; nothing to cancel`);
  let removed = false;
  const root = await ctx.queue.getJob(jobId);
  try {
    // Fails while a worker holds one of the flow's jobs: those fail by themselves on the stop record.
    await root?.remove({ removeChildren: true });
    removed = Boolean(root);
  } catch (e) {
    log.info(`job ${jobId}: some shards are running; they stop within a second (${(e as Error).message})`);
  }
  await deleteJobData(ctx, jobId, ['t', 'p', 'r']);
  return { removed };
}
