/**
 * The piscina worker: one per thread, owning its tfjs backend and model replicas for its lifetime.
 * Errors are caught here and returned serialised (short), never thrown across the boundary: the
 * wasm module reprints a huge minified line on uncaught errors (../shared/STACK.md).
 */
import { serializeError } from '../errors/index.ts';
import type { PhaseFlag, TaskPhase, WorkerReply, WorkerTask } from '../protocol/messages.ts';
import { sharedAllReduce } from './barrier.ts';
import { executeKfraGroup, executeProducts, executeShard } from './execute.ts';
import { adoptBuffer, recycle } from '../io/host-buffers.ts';
import { movable } from './transfer.ts';

/** Sets the task's phase flag (see PhaseFlag) and wakes the coordinator waiting on it. */
function signalPhase(flag: PhaseFlag | undefined): (phase: TaskPhase) => void {
  return (phase) => {
    if (!flag) return;
    const word = new Int32Array(flag);
    Atomics.store(word, 0, phase === 'received' ? 1 : 2);
    Atomics.notify(word, 0);
  };
}

async function reply(task: WorkerTask): Promise<WorkerReply> {
  try {
    if (task.type === 'shard') return { ok: true, value: await executeShard(task, signalPhase(task.phaseFlag)) };
    if (task.type === 'products') return { ok: true, value: await executeProducts(task, signalPhase(task.phaseFlag)) };
    if (task.barrier.kind !== 'shared-memory') throw new Error('thread workers take shared-memory barriers');
    const reduce = sharedAllReduce(task.barrier, task.group);
    return { ok: true, value: await executeKfraGroup(task, async (local) => reduce(local), signalPhase(task.phaseFlag)) };
  } catch (e) {
    return { ok: false, error: serializeError(e) };
  }
}

/** Piscina unwraps the movable reply: the coordinator receives a WorkerReply, its buffers moved. */
export default async function run(task: WorkerTask): Promise<ReturnType<typeof movable>> {
  if (task.type === 'shard') {
    for (const spare of task.spares ?? []) {
      adoptBuffer(spare);
      recycle(spare);
    }
  }
  return movable(await reply(task));
}
