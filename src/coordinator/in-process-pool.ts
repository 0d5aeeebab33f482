/**
 * `--workers 0` through the coordinator: tasks run one at a time in this thread, with the same
 * worker code as threads and processes, so streaming, memory budgets and shard-order merging work
 * the same way. There is nothing to preempt a running shard here, so timeouts cannot stop one.
 */
import { serializeError } from '../errors/index.ts';
import type { TaskPhase, WorkerReply, WorkerTask } from '../protocol/messages.ts';
import { sumInOrder } from '../core/sum-in-order.ts';
import { executeKfraGroup, executeProducts, executeShard } from '../worker/execute.ts';
import type { WorkerPool } from './pool.ts';

export function createInProcessPool(): WorkerPool {
  let queue = Promise.resolve();
  const execute = async (task: WorkerTask, signal: AbortSignal, onPhase: (phase: TaskPhase) => void = () => {}): Promise<WorkerReply> => {
    // Let the coordinator handle the previous result (merge it, dispatch more) before blocking.
    await new Promise((resolve) => setImmediate(resolve));
    if (signal.aborted) throw new Error(`task aborted: ${String(signal.reason ?? 'aborted')}`);
    try {
      if (task.type === 'shard') return { ok: true, value: await executeShard(task, onPhase) };
      if (task.type === 'products') return { ok: true, value: await executeProducts(task, onPhase) };
      // One group holds every shard: its all-reduce is the sum of its own contributions, in shard order.
      return { ok: true, value: await executeKfraGroup(task, async (local) => sumInOrder(local), onPhase) };
    } catch (e) {
      return { ok: false, error: serializeError(e) };
    }
  };
  return {
    kind: 'in-process',
    size: 1,
    run(task, signal, onPhase) {
      const next = queue.then(() => execute(task, signal, onPhase));
      queue = next.then(() => undefined, () => undefined);
      return next;
    },
    close: async () => {},
  };
}
