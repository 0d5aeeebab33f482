/** The one interface the coordinator drives, whatever runs the work: threads or processes. */
import type { TaskPhase, WorkerReply, WorkerTask } from '../protocol/messages.ts';

export interface WorkerPool {
  /** 'in-process': `--workers 0`, tasks run one by one in the coordinator's thread. */
  readonly kind: 'threads' | 'processes' | 'in-process';
  /** Number of workers (threads or processes). */
  readonly size: number;
  /**
   * Runs one task. Rejects (never resolves) when the worker dies or the signal aborts; the pool
   * then replaces that worker, so it keeps serving other tasks and jobs. `onPhase` reports when a
   * worker has received the task and when it actually began it (its backend ready), each once and
   * in that order: the coordinator's timeouts count from there, never from when it was queued.
   */
  run(task: WorkerTask, signal: AbortSignal, onPhase?: (phase: TaskPhase) => void): Promise<WorkerReply>;
  close(): Promise<void>;
}
