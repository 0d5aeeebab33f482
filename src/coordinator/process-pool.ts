/**
 * Worker processes (node:child_process), one per device with --devices: worker i sees only GPU
 * devices[i] (CUDA_VISIBLE_DEVICES). Without GPUs the same pool runs CPU backends. A process that
 * exits or is aborted mid-task fails that task and is replaced; KFRA all-reduces are summed here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { ChildMessage, GroupResult, ParentMessage, ShardResult, TaskPhase, WorkerReply, WorkerTask } from '../protocol/messages.ts';
import { removeShmDirsOf, unpackEntries, type PackedEntries } from '../protocol/shm-transport.ts';
import { removeStaleShm } from './job-context.ts';
import type { WorkerPool } from './pool.ts';
import { onInterrupt } from './temp-files.ts';
import { sumInOrder } from '../core/sum-in-order.ts';
import { workerEntryFile } from '../worker/entry-file.ts';

const ENTRY = workerEntryFile(import.meta.url, 'process-worker', 'process-entry.mjs');

interface Slot {
  child: ChildProcess;
  ready: Promise<void>;
  taskId: number | null;
  device: number | null;
  /**
   * Killed (its task aborted) and not yet exited. NOTE: a killed child may still deliver a reply it
   * sent just before the kill; were the slot then freed, the next task would go to a dying process
   * and fail with a spurious exit (a retry of a healthy shard). A retired slot takes no task and its
   * messages are ignored; its 'exit' replaces it.
   */
  retired: boolean;
}

interface Pending {
  taskId: number;
  task: WorkerTask;
  resolve: (r: WorkerReply) => void;
  reject: (e: Error) => void;
  signal: AbortSignal;
  onPhase?: (phase: TaskPhase) => void;
  slot?: Slot;
}

/** One all-reduce round of a message barrier: contributions by group, then the sum in group order. */
class MessageBarrier {
  private rounds = new Map<number, { values: Float64Array[][]; waiters: { slot: Slot; taskId: number }[] }>();
  constructor(private groups: number) {}
  arrive(round: number, group: number, values: Float64Array[], slot: Slot, taskId: number): void {
    let r = this.rounds.get(round);
    if (!r) this.rounds.set(round, (r = { values: Array(this.groups), waiters: [] }));
    r.values[group] = values;
    r.waiters.push({ slot, taskId });
    if (r.waiters.length < this.groups) return;
    // Group order, then shard order within a group: the global shard order.
    const sum = sumInOrder(r.values.flat());
    for (const w of r.waiters) w.slot.child.send({ type: 'allreduced', taskId: w.taskId, round, values: sum } satisfies ParentMessage);
    this.rounds.delete(round);
  }
}

/**
 * A task as it can cross the process boundary. A fault's counter is a SharedArrayBuffer, which IPC
 * cannot carry (sending it throws): the parent counts the attempts down here, once per attempt of
 * the faulty shard, and sends a private counter holding 1 (sabotage this attempt) or no fault.
 */
function wireTask(task: WorkerTask): WorkerTask {
  if (task.type !== 'shard' || !task.fault) return task;
  const { fault, ...rest } = task;
  if (fault.shardId !== task.shard.shardId || Atomics.sub(new Int32Array(fault.counter), 0, 1) <= 0) return rest;
  const counter = new ArrayBuffer(4);
  new Int32Array(counter)[0] = 1;
  return { ...rest, fault: { ...fault, counter } };
}

function unpack(value: ShardResult | GroupResult): ShardResult | GroupResult {
  const one = (r: ShardResult): ShardResult => ({ ...r, entries: unpackEntries(r.entries as unknown as PackedEntries) });
  return value.type === 'partials' ? one(value) : { ...value, results: value.results.map(one) };
}

export function createProcessPool(size: number, devices?: number[]): WorkerPool {
  const count = devices?.length ?? size;
  const queue: Pending[] = [];
  const inFlight = new Map<number, Pending>();
  const barriers = new Map<string, MessageBarrier>();
  let nextTask = 1;
  let closed = false;

  function spawn(device: number | null): Slot {
    const env = { ...process.env };
    if (device !== null) {
      env.CUDA_VISIBLE_DEVICES = String(device);
    }
    // --expose-gc: workers collect the buffers of a finished shard before the next (release-memory.ts).
    const execArgv = process.execArgv.includes('--expose-gc') ? process.execArgv : [...process.execArgv, '--expose-gc'];
    const child = fork(ENTRY, [], { env, execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const slot: Slot = { child, taskId: null, device, ready: Promise.resolve(), retired: false };
    slot.ready = new Promise((resolve) => child.once('message', () => resolve()));
    child.on('message', (m: ChildMessage) => onMessage(slot, m));
    child.on('exit', (code, sig) => onExit(slot, code, sig));
    // A send to a child that just died emits 'error'; its 'exit' fails the task, so only swallow it
    // here (unhandled, it would crash the coordinator).
    child.on('error', () => {});
    return slot;
  }

  removeStaleShm();
  const slots: Slot[] = Array.from({ length: count }, (_, i) => spawn(devices ? devices[i] : null));
  // Interrupted (SIGINT/SIGTERM) with the pool open: end the children at once (a busy one would
  // only notice the disconnect after its shard) and remove their shm directories.
  const releaseChildren = onInterrupt(() => {
    for (const s of slots) {
      s.child.kill('SIGKILL');
      if (s.child.pid !== undefined) removeShmDirsOf(`worker-${s.child.pid}`);
    }
  });

  function onMessage(slot: Slot, m: ChildMessage): void {
    if (slot.retired) return;
    if (m.type === 'phase') {
      if (slot.taskId === m.taskId) inFlight.get(m.taskId)?.onPhase?.(m.phase);
    } else if (m.type === 'reply') {
      const p = inFlight.get(m.taskId);
      if (!p) return;
      inFlight.delete(m.taskId);
      slot.taskId = null;
      try {
        p.resolve(m.reply.ok ? { ok: true, value: unpack(m.reply.value) } : m.reply);
      } catch (e) {
        p.reject(e as Error);
      }
      dispatch();
    } else if (m.type === 'allreduce') {
      const p = inFlight.get(m.taskId);
      if (!p || p.task.type !== 'kfra-group') return;
      let b = barriers.get(m.barrier);
      if (!b) barriers.set(m.barrier, (b = new MessageBarrier(p.task.barrier.groups)));
      b.arrive(m.round, m.group, m.values, slot, m.taskId);
    }
  }

  function onExit(slot: Slot, code: number | null, sig: string | null): void {
    const i = slots.indexOf(slot);
    // A killed worker (hung, or aborted with its job) cannot remove its own /dev/shm directory.
    if (slot.child.pid !== undefined) removeShmDirsOf(`worker-${slot.child.pid}`);
    if (slot.taskId !== null) {
      const p = inFlight.get(slot.taskId);
      inFlight.delete(slot.taskId);
      p?.reject(new Error(`worker process ${slot.child.pid} exited (code ${code}, signal ${sig}) while running a task`));
    }
    if (closed || i < 0) return;
    slots[i] = spawn(slot.device);
    dispatch();
  }

  function dispatch(): void {
    for (const slot of slots) {
      if (slot.retired || slot.taskId !== null || queue.length === 0) continue;
      const p = queue.shift()!;
      if (p.signal.aborted) {
        p.reject(new Error('aborted before start'));
        continue;
      }
      slot.taskId = p.taskId;
      p.slot = slot;
      inFlight.set(p.taskId, p);
      let message: ParentMessage;
      try {
        message = { type: 'task', taskId: p.taskId, task: wireTask(p.task) };
      } catch (e) {
        inFlight.delete(p.taskId);
        slot.taskId = null;
        p.reject(e as Error);
        continue;
      }
      void slot.ready.then(() => {
        if (slot.taskId !== p.taskId) return; // aborted or the child died while starting
        try {
          slot.child.send(message);
        } catch (e) {
          // E.g. a value IPC cannot serialise: fail this task instead of crashing the coordinator.
          inFlight.delete(p.taskId);
          slot.taskId = null;
          p.reject(e as Error);
          dispatch();
        }
      });
    }
  }

  return {
    kind: 'processes',
    size: count,
    run(task, signal, onPhase) {
      return new Promise<WorkerReply>((resolve, reject) => {
        const p: Pending = { taskId: nextTask++, task, resolve, reject, signal, onPhase };
        signal.addEventListener('abort', () => {
          const idx = queue.indexOf(p);
          if (idx >= 0) queue.splice(idx, 1);
          // NOTE: killing the process is the only way to stop a hung task; exit() respawns it.
          if (p.slot && p.slot.taskId === p.taskId && !p.slot.retired) {
            p.slot.retired = true;
            inFlight.delete(p.taskId);
            p.slot.child.kill('SIGKILL');
          }
          reject(new Error(`task aborted: ${String(signal.reason ?? 'timeout')}`));
        }, { once: true });
        queue.push(p);
        dispatch();
      });
    },
    async close() {
      closed = true;
      try {
        await Promise.all(slots.map((s) => new Promise<void>((resolve) => {
          if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
          s.child.once('exit', () => resolve());
          s.child.disconnect?.();
          setTimeout(() => s.child.kill('SIGKILL'), 2000).unref();
        })));
      } finally {
        // The children have exited; a directory of one killed after the grace period goes too.
        releaseChildren();
      }
    },
  };
}
