/**
 * `backpack-ts status [ID]` and `submit --wait`: a job's state from its BullMQ root, its progress
 * from the meta hash (shards counted once), its error from the stop record (the first failing
 * shard's typed reason, not BullMQ's "child failed" of the parent).
 */
import type { Summary } from '../src/io/results.ts';
import { BackpackError } from '../src/errors/index.ts';
import { JobCancelledError, JobNotFoundError, JobStateError } from '../src/errors/queue-errors.ts';
import type { Progress } from '../src/coordinator/run-job.ts';
import type { QueueContext } from './context.ts';
import { errorFromReason, oneLine } from './failure.ts';
import { checkJobId, isJobId } from './job-id.ts';
import { phaseOf } from './job-state.ts';
import { summarySchema } from './summary.ts';
import { readJsonRecord } from './record.ts';
import { parseStopRecord } from './worker-context.ts';

export type JobState = 'queued' | 'running' | 'reducing' | 'completed' | 'failed' | 'cancelled' | 'unknown';

export interface JobStatus {
  jobId: string;
  name: string;
  state: JobState;
  shardsDone: number;
  shardsTotal: number;
  samplesDone: number;
  N: number;
  batches: number;
  priority: number;
  createdAt: number;
  finishedAt?: number;
  /** `error [CODE] Name: message` of a failed or cancelled job. */
  error?: string;
  outputDir?: string;
  /** `backpack-ts result` can fetch this job's results: it completed and kept them in Redis. */
  resultsInRedis: boolean;
}

export async function jobStatus(ctx: QueueContext, jobId: string): Promise<JobStatus> {
  checkJobId(jobId, 'job id');
  const [meta, stopJson, bullState] = await Promise.all([
    ctx.redis.hgetall(ctx.keys.meta(jobId)),
    ctx.redis.get(ctx.keys.stop(jobId)),
    ctx.queue.getJobState(jobId),
  ]);
  if (!meta.jobId && bullState === 'unknown') throw new JobNotFoundError(`no job '${jobId}' in queue '${ctx.settings.queue}' (prefix '${ctx.settings.prefix}'): never submitted here, or expired`);
  const stop = stopJson === null ? null : parseStopRecord(stopJson, jobId);
  // The meta hash is a record anyone could have written: numbers that are not are shown as 0.
  const num = (k: string) => {
    const n = Number(meta[k] ?? 0);
    return Number.isFinite(n) ? n : 0;
  };
  const phase = phaseOf(meta.phase);
  let state: JobState;
  if (bullState === 'completed' || phase === 'completed') state = 'completed';
  else if (phase === 'cancelled' || stop?.kind === 'cancelled') state = 'cancelled';
  else if (phase === 'failed' || bullState === 'failed') state = 'failed';
  else if (phase === 'reducing') state = 'reducing';
  else if (bullState === 'waiting-children') state = num('shardsDone') > 0 ? 'running' : 'queued';
  else if (bullState === 'unknown') state = 'unknown';
  else state = 'reducing';
  let error: string | undefined;
  if (state === 'failed' || state === 'cancelled') {
    const reason = stop?.reason ?? (await ctx.queue.getJob(jobId))?.failedReason;
    error = reason === undefined ? undefined : oneLine(reason);
  }
  return {
    jobId, name: oneLine(meta.name ?? '', 200), state, shardsDone: num('shardsDone'), shardsTotal: num('shardsTotal'), samplesDone: num('samplesDone'),
    N: num('N'), batches: num('batches'), priority: num('priority'), createdAt: num('createdAt'),
    finishedAt: meta.finishedAt ? Number(meta.finishedAt) : undefined, error, outputDir: meta.outputDir || undefined,
    // Results exist only once a job completed: a cancelled or failed job has none, wherever they were to go.
    resultsInRedis: state === 'completed' && meta.outputRedis === '1',
  };
}

/** The most recent jobs (newest first); ids whose data expired are dropped from the index. */
export async function listJobs(ctx: QueueContext, limit = 20): Promise<JobStatus[]> {
  const ids = await ctx.redis.zrevrange(ctx.keys.jobs(), 0, limit - 1);
  const out: JobStatus[] = [];
  for (const id of ids) {
    if (!isJobId(id)) {
      // Not an id submit writes: someone else wrote it; it names no job and is dropped from the index.
      await ctx.redis.zrem(ctx.keys.jobs(), id);
      continue;
    }
    try {
      out.push(await jobStatus(ctx, id));
    } catch (e) {
      if (!(e instanceof JobNotFoundError)) throw e;
      await ctx.redis.zrem(ctx.keys.jobs(), id);
    }
  }
  return out;
}

export function formatStatus(s: JobStatus): string {
  const pct = s.shardsTotal ? ` (${((100 * s.shardsDone) / s.shardsTotal).toFixed(0)}%)` : '';
  const lines = [
    `job ${s.jobId}${s.name ? ` "${s.name}"` : ''}: ${s.state}`,
    `  shards ${s.shardsDone}/${s.shardsTotal}${pct}, samples ${s.samplesDone}/${s.N}${s.batches > 1 ? ` in ${s.batches} batches` : ''}`,
    `  submitted ${new Date(s.createdAt).toISOString()}${s.finishedAt ? `, finished ${new Date(s.finishedAt).toISOString()}` : ''}${s.priority ? `, priority ${s.priority}` : ''}`,
  ];
  if (s.state === 'completed') {
    const where = [s.outputDir, s.resultsInRedis ? `Redis (backpack-ts result ${s.jobId} --out DIR)` : ''].filter(Boolean).join(' and ');
    lines.push(`  results: ${where}`);
  }
  if (s.error) lines.push(`  ${s.error}`);
  return lines.join('\n');
}

export function formatJobTable(jobs: JobStatus[]): string {
  if (jobs.length === 0) return 'no jobs';
  const rows = jobs.map((s) => [s.jobId, s.state, `${s.shardsDone}/${s.shardsTotal}`, String(s.N), new Date(s.createdAt).toISOString(), s.name]);
  const head = ['id', 'state', 'shards', 'N', 'submitted', 'name'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(width[i])).join('  ').trimEnd()).join('\n');
}

export interface WaitOptions {
  onProgress?: (p: Progress) => void;
  pollMs?: number;
  /** Give up after this long (0 = never). */
  timeoutMs?: number;
}

/**
 * Resolves with the job's summary once it completes; rejects with the job's own typed error when it
 * fails (e.g. LabelRangeError from a worker) or JobCancelledError. Polls, so it rides out Redis restarts.
 */
export async function waitForJob(ctx: QueueContext, jobId: string, o: WaitOptions = {}): Promise<Summary> {
  checkJobId(jobId, 'job id');
  const t0 = performance.now();
  for (;;) {
    let s: JobStatus | undefined;
    try {
      s = await jobStatus(ctx, jobId);
    } catch (e) {
      if (e instanceof JobNotFoundError || e instanceof BackpackError) throw e;
      // Redis restarting: ioredis reconnects and the next poll asks again.
    }
    if (s) {
      o.onProgress?.({ shardsDone: s.shardsDone, shardsTotal: s.shardsTotal, samplesDone: s.samplesDone, N: s.N, elapsedMs: performance.now() - t0 });
      if (s.state === 'completed') {
        const summary = await readJsonRecord(ctx.redis, ctx.keys.summary(jobId), summarySchema, `job ${jobId}: summary`);
        if (summary !== undefined) return summary as unknown as Summary;
      }
      if (s.state === 'failed') throw errorFromReason(s.error ?? 'the job failed');
      if (s.state === 'cancelled') throw s.error ? errorFromReason(s.error) : new JobCancelledError(`job ${jobId} was cancelled`);
      if (s.state === 'unknown') throw new JobNotFoundError(`job ${jobId} is no longer in the queue (removed)`);
    }
    if (o.timeoutMs && performance.now() - t0 > o.timeoutMs) throw new JobStateError(`gave up waiting for job ${jobId} after ${o.timeoutMs} ms (it keeps running; see backpack-ts status ${jobId})`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
  }
}
