/**
 * Runs one task on the pool with a timeout and retries. A worker that throws a non-deterministic
 * error, crashes, or hangs past the timeout is replaced by the pool and the task is retried; a
 * deterministic error (bad input) is thrown at once, without retries.
 *
 * The timeout counts running time only: its clock starts when the pool reports that a worker has
 * begun the task (phase 'started'), not when the task is queued, so waiting behind other shards or
 * for a replacement worker to start up never counts as hanging. A worker's start-up (from
 * 'received' to 'started') has a timeout of its own, so a backend that never comes up is still
 * caught: at least a minute, as a fresh backend on a loaded machine can take seconds.
 */
import { setMaxListeners } from 'node:events';
import { BackpackError, deserializeError, ErrorCode } from '../errors/index.ts';
import type { GroupResult, ShardResult, TaskPhase, WorkerTask } from '../protocol/messages.ts';
import type { WorkerPool } from './pool.ts';

export interface DispatchOptions {
  /** Milliseconds of running time before a task is declared hung and its worker replaced (0 = never). */
  timeoutMs: number;
  /** Milliseconds a worker may take to get its backend ready for the task (default: max(timeoutMs, 60 s); 0 = never). */
  startupTimeoutMs?: number;
  retries: number;
  /** Aborts every attempt of the task (the job failed elsewhere). */
  jobSignal: AbortSignal;
  onRetry?: (attempt: number, reason: string) => void;
}

const MIN_STARTUP_TIMEOUT_MS = 60_000;

export class ShardFailedError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Internal, message, false);
    this.name = 'ShardFailedError';
  }
}

export async function dispatch(pool: WorkerPool, task: WorkerTask, what: string, opts: DispatchOptions): Promise<ShardResult | GroupResult> {
  let last = '';
  // Every shard in flight listens on the job's signal (and removes its listener when done): a job
  // of more than 10 shards is no leak, so no MaxListenersExceededWarning.
  setMaxListeners(0, opts.jobSignal);
  const startupMs = opts.startupTimeoutMs ?? (opts.timeoutMs > 0 ? Math.max(opts.timeoutMs, MIN_STARTUP_TIMEOUT_MS) : 0);
  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    if (opts.jobSignal.aborted) throw new ShardFailedError(`${what}: job aborted`);
    const controller = new AbortController();
    const onJobAbort = () => controller.abort('job aborted');
    opts.jobSignal.addEventListener('abort', onJobAbort, { once: true });
    let timer: NodeJS.Timeout | null = null;
    const onPhase = (phase: TaskPhase) => {
      if (timer) clearTimeout(timer);
      timer = null;
      const ms = phase === 'received' ? startupMs : opts.timeoutMs;
      if (ms <= 0 || controller.signal.aborted) return;
      const reason = phase === 'received' ? `worker not ready after ${ms} ms of start-up` : `no result after ${ms} ms of running`;
      timer = setTimeout(() => controller.abort(reason), ms);
    };
    try {
      const reply = await pool.run(task, controller.signal, onPhase);
      if (reply.ok) return reply.value;
      const err = deserializeError(reply.error);
      if (reply.error.deterministic) throw err;
      last = err.message;
    } catch (e) {
      if (e instanceof BackpackError && e.deterministic) throw e;
      last = controller.signal.aborted ? String(controller.signal.reason) : (e as Error).message;
    } finally {
      if (timer) clearTimeout(timer);
      opts.jobSignal.removeEventListener('abort', onJobAbort);
    }
    // Aborted because the job failed elsewhere: not a retry (and not worth reporting as one).
    if (opts.jobSignal.aborted) break;
    if (attempt === opts.retries) break;
    // NOTE: another shard's deterministic failure (which fails the job) may have arrived in the same
    // turn of the event loop as this failure, its reply read but not yet handled. Deciding after one
    // more turn lets it abort the job first, so that no shard is retried for a job that has already
    // failed (test/coordinator/failures.test.ts, "deterministic errors fail fast, without retries").
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (opts.jobSignal.aborted) break;
    opts.onRetry?.(attempt + 1, last);
  }
  if (opts.jobSignal.aborted) throw new ShardFailedError(`${what}: job aborted`);
  throw new ShardFailedError(`${what} failed after ${opts.retries + 1} attempts; last error: ${last}`);
}
