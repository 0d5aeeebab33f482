/**
 * The piscina worker: one per thread, owning its tfjs backend and model replicas for its lifetime.
 * Errors are caught here and returned serialised (short), never thrown across the boundary: the
 * wasm module reprints a huge minified line on uncaught errors (../shared/STACK.md).
 */
import { serializeError } from '../errors/index.ts';
import type { WorkerReply, WorkerTask } from '../protocol/messages.ts';
import { sharedAllReduce } from './barrier.ts';
import { executeKfraGroup, executeShard } from './execute.ts';

export default async function run(task: WorkerTask): Promise<WorkerReply> {
  try {
    if (task.type === 'shard') return { ok: true, value: await executeShard(task) };
    if (task.barrier.kind !== 'shared-memory') throw new Error('thread workers take shared-memory barriers');
    const reduce = sharedAllReduce(task.barrier, task.group);
    return { ok: true, value: await executeKfraGroup(task, async (local) => reduce(local)) };
  } catch (e) {
    return { ok: false, error: serializeError(e) };
  }
}
