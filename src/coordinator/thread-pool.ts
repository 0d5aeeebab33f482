/** Worker threads through piscina: each thread keeps its backend and model replicas across tasks. */
import { Piscina } from 'piscina';
import type { WorkerReply, WorkerTask } from '../protocol/messages.ts';
import type { WorkerPool } from './pool.ts';
import { watchPhases } from './phase-flag.ts';
import { workerEntryFile } from '../worker/entry-file.ts';
import { replyArrays } from '../worker/transfer.ts';
import { adoptBuffer, takeSpares, wantOf, type BufferWant } from '../io/host-buffers.ts';

const ENTRY = workerEntryFile(import.meta.url, 'thread-worker', 'thread-entry.mjs');

export function createThreadPool(size: number): WorkerPool {
  const piscina = new Piscina<WorkerTask, WorkerReply>({
    filename: ENTRY,
    minThreads: size,
    maxThreads: size,
    // Keep threads (and their model replicas) alive between jobs.
    idleTimeout: 60_000,
  });
  // Piscina emits 'error' for what no task can receive: a reply that arrives after its task was
  // aborted (a job failing while other shards finish: the race is real) or a worker dying between
  // tasks. Unlistened, that event would crash the coordinator; every task failure already reaches
  // its caller through run()'s promise, and piscina replaces dead workers itself.
  piscina.on('error', () => {});
  // The arrays of one shard in the latest reply: a shard task takes free arrays of these kinds and
  // lengths back to its worker (ShardTask.spares), as the next job's shards are usually alike.
  let wants: BufferWant[] = [];
  return {
    kind: 'threads',
    size,
    async run(task, signal, onPhase) {
      const phases = watchPhases(onPhase);
      const spares = task.type === 'shard' ? takeSpares(wants) : [];
      try {
        const reply = await piscina.run({ ...task, phaseFlag: phases.flag, ...(task.type === 'shard' ? { spares } : {}) }, { signal, transferList: spares.map((a) => a.buffer as ArrayBuffer) });
        if (reply.ok) {
          // Moved here, so this thread owns them: its host pool may take them back once merged.
          const arrays = replyArrays(reply.value);
          arrays.forEach(adoptBuffer);
          if (reply.value.type === 'partials') wants = arrays.map(wantOf);
        }
        return reply;
      } finally {
        phases.settle();
      }
    },
    close: () => piscina.destroy(),
  };
}
