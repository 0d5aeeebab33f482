/** The one interface the coordinator drives, whatever runs the work: threads or processes. */
import type { WorkerReply, WorkerTask } from '../protocol/messages.ts';

export interface WorkerPool {
  /** 'in-process': `--workers 0`, tasks run one by one in the coordinator's thread. */
  readonly kind: 'threads' | 'processes' | 'in-process';
  /** Number of workers (threads or processes). */
  readonly size: number;
  /**
   * Runs one task. Rejects (never resolves) when the worker dies or the signal aborts; the pool
   * then replaces that worker, so it keeps serving other tasks and jobs. `onStart` is called once,
   * when a ready worker actually begins the task (after any time queued and after the worker's own
   * start-up): shard timeouts count from there.
   */
  run(task: WorkerTask, signal: AbortSignal, onStart?: () => void): Promise<WorkerReply>;
  close(): Promise<void>;
}
