/**
 * A worker process of the process pool (one per GPU with --devices). Tasks and replies travel over
 * IPC as small messages; tensors travel as files in /dev/shm. KFRA's all-reduce goes through the
 * coordinator, which sums the groups' contributions in group order.
 */
import path from 'node:path';
import { serializeError } from '../errors/index.ts';
import type { ChildMessage, GroupResult, ParentMessage, ShardResult, TaskPhase, WorkerReply } from '../protocol/messages.ts';
import { packEntries, removeShmDir, shmDir } from '../protocol/shm-transport.ts';
import { executeKfraGroup, executeProducts, executeShard } from './execute.ts';
import { dropped } from './release-memory.ts';

function dataBytes(value: ShardResult | GroupResult): number {
  const results = value.type === 'partials' ? [value] : value.results;
  return results.reduce((a, r) => a + Object.values(r.entries).reduce((b, e) => b + (e.kind === 'spilled' ? 0 : e.data.byteLength), 0), 0);
}

const send = (m: ChildMessage) => process.send!(m);
const dir = shmDir(`worker-${process.pid}`);
// The parent also removes it when this process is killed (see process-pool.ts).
process.on('exit', () => removeShmDir(dir));
const pendingReduce = new Map<string, (values: Float64Array) => void>();

/** Replaces each result's partial data by a file reference (the parent unpacks it). */
function packed(value: ShardResult | GroupResult, taskId: number): ShardResult | GroupResult {
  const pack = (r: ShardResult, i: number): ShardResult => ({
    ...r,
    entries: packEntries(r.entries, path.join(dir, `t${taskId}-${i}.bin`)) as unknown as ShardResult['entries'],
  });
  return value.type === 'partials' ? pack(value, 0) : { ...value, results: value.results.map(pack) };
}

async function handle(taskId: number, m: Extract<ParentMessage, { type: 'task' }>): Promise<void> {
  let reply: WorkerReply;
  try {
    const { task } = m;
    let value: ShardResult | GroupResult;
    const phase = (p: TaskPhase) => send({ type: 'phase', taskId, phase: p });
    if (task.type === 'shard') {
      value = await executeShard(task, phase);
    } else if (task.type === 'products') {
      value = await executeProducts(task, phase);
    } else {
      let round = 0;
      const barrier = task.barrier;
      value = await executeKfraGroup(task, (values) => {
        const r = round++;
        const id = barrier.kind === 'messages' ? barrier.id : '';
        return new Promise((resolve) => {
          pendingReduce.set(`${taskId}:${r}`, resolve);
          send({ type: 'allreduce', taskId, barrier: id, round: r, group: task.group, values });
        });
      }, phase);
    }
    reply = { ok: true, value: packed(value, taskId) };
    dropped(dataBytes(value)); // written to the shm file: garbage once this task is done
  } catch (e) {
    reply = { ok: false, error: serializeError(e) };
  }
  send({ type: 'reply', taskId, reply });
}

process.on('message', (m: ParentMessage) => {
  if (m.type === 'task') void handle(m.taskId, m);
  else if (m.type === 'allreduced') {
    const key = `${m.taskId}:${m.round}`;
    pendingReduce.get(key)?.(m.values);
    pendingReduce.delete(key);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', pid: process.pid });
