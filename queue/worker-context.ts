/**
 * What a queue worker's processors share: the queue, the local pool, the job cache, the options,
 * and the stop signal of a job (cancelled, or failed for good). Stop is a Redis key, so it reaches
 * every worker on every host; a running shard polls it and gives up within `STOP_POLL_MS`.
 */
import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import type { WorkerPool } from '../src/coordinator/pool.ts';
import { JobCancelledError, QueueRecordError } from '../src/errors/queue-errors.ts';
import type { QueueContext } from './context.ts';
import { failureReason, MAX_REASON } from './failure.ts';
import type { JobCache } from './job-cache.ts';
import type { PathPolicy } from './path-policy.ts';
import { parseJsonRecord, parseRecord } from './record.ts';

export const STOP_POLL_MS = 500;

export interface WorkerSettings {
  shardTimeoutMs?: number;
  retries?: number;
  chunkBytes?: number;
  /** Largest results.safetensors kept in Redis (bytes); larger results need output.dir. Default 2 GiB. */
  maxResultBytes?: number;
  /** BullMQ lock of an active job; a worker silent this long is presumed dead (default 30000). */
  lockDurationMs?: number;
  /** Memory budget of one local worker for one shard (bytes; default: half this machine's memory). */
  maxMemoryBytes?: number;
  /** Test hook: each shard waits this long before computing (to kill a worker mid-shard). */
  debugShardDelayMs?: number;
  /** Test hook: a reduce holds the main thread this long where it merges (a long synchronous merge). */
  debugSyncBlockMs?: number;
}

/** Why a job stopped: stored at <ns>:<id>:stop. */
const stopRecordSchema = z.strictObject({
  kind: z.enum(['cancelled', 'failed']),
  /** A failedReason in the `error [CODE] Name: message` format. */
  reason: z.string().max(MAX_REASON + 200),
});
export type StopRecord = z.infer<typeof stopRecordSchema>;

/** A stop record as read back; one that is malformed still stops the job (with a reason that says so). */
export function parseStopRecord(json: string, jobId: string): StopRecord {
  try {
    return parseRecord(stopRecordSchema, parseJsonRecord(json, `job ${jobId}: stop record`), `job ${jobId}: stop record`);
  } catch (e) {
    if (!(e instanceof QueueRecordError)) throw e;
    return { kind: 'failed', reason: failureReason(e) };
  }
}

export async function readStopRecord(ctx: QueueContext, jobId: string): Promise<StopRecord | null> {
  const json = await ctx.redis.get(ctx.keys.stop(jobId));
  return json === null ? null : parseStopRecord(json, jobId);
}

export class WorkerContext {
  constructor(readonly ctx: QueueContext, readonly pool: WorkerPool, readonly cache: JobCache, readonly policy: PathPolicy, readonly opts: WorkerSettings) {}

  stopRecord(jobId: string): Promise<StopRecord | null> {
    return readStopRecord(this.ctx, jobId);
  }

  /** Throws (unrecoverably: a retry cannot un-cancel) when the job was stopped. */
  async throwIfStopped(jobId: string): Promise<void> {
    const stop = await this.stopRecord(jobId);
    if (stop) throw new UnrecoverableError(stop.reason);
  }

  /**
   * Resolves with `work`, or rejects as soon as the job is stopped; `work` gets a signal that aborts
   * then (a running pool task cannot be interrupted: its result is dropped).
   */
  untilStopped<T>(jobId: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const running = work(abort.signal);
    running.catch(() => {}); // NOTE: abandoned after a stop; its rejection must not go unhandled.
    const watch = new Promise<never>((_, reject) => {
      const poll = async () => {
        if (abort.signal.aborted) return;
        try {
          const stop = await this.stopRecord(jobId);
          if (stop) return reject(new UnrecoverableError(stop.reason));
        } catch {
          // Redis unreachable for a moment: the work goes on; the next poll asks again.
        }
        if (!abort.signal.aborted) timer = setTimeout(poll, STOP_POLL_MS);
      };
      timer = setTimeout(poll, STOP_POLL_MS);
    });
    return Promise.race([running, watch]).finally(() => {
      abort.abort();
      clearTimeout(timer);
    });
  }
}

export function cancelledRecord(jobId: string): StopRecord {
  const e = new JobCancelledError(`job ${jobId} was cancelled`);
  return { kind: 'cancelled', reason: `error [${e.code}] ${e.name}: ${e.message}` };
}
