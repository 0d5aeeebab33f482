/**
 * dispatch's clocks, on a scripted pool: time queued never counts; a worker's start-up (received →
 * started) and the shard's running each have a timeout (here both 200 ms); the reasons say which
 * one ran out.
 */
import { describe, expect, it } from 'vitest';
import { dispatch } from '../../src/coordinator/dispatch.ts';
import type { WorkerPool } from '../../src/coordinator/pool.ts';
import type { ShardResult, ShardTask, TaskPhase, WorkerReply } from '../../src/protocol/messages.ts';

const TIMEOUT = 200;
const task = { type: 'shard', shard: { shardId: 0, offset: 0, count: 1 } } as unknown as ShardTask;
const result: ShardResult = { type: 'partials', shardId: 0, offset: 0, count: 1, loss: 0, entries: {}, workerId: 'w' };
const ok: WorkerReply = { ok: true, value: result };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pool that plays `script` for every attempt: phases after delays, then a reply (or nothing: hangs). */
function scripted(script: { at: number; phase?: TaskPhase; reply?: boolean }[]): WorkerPool {
  return {
    kind: 'threads',
    size: 1,
    run: (_task, signal, onPhase) => new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error(String(signal.reason))), { once: true });
      for (const step of script) {
        setTimeout(() => {
          if (signal.aborted) return;
          if (step.phase) onPhase?.(step.phase);
          if (step.reply) resolve(ok);
        }, step.at);
      }
    }),
    close: async () => {},
  };
}

const run = (pool: WorkerPool, retries = 0) => {
  const reasons: string[] = [];
  const p = dispatch(pool, task, 'shard 0', { timeoutMs: TIMEOUT, startupTimeoutMs: TIMEOUT, retries, jobSignal: new AbortController().signal, onRetry: (_a, r) => void reasons.push(r) });
  return { p, reasons };
};

describe('dispatch timeouts by phase', () => {
  it('queued for 3× the timeout, then a quick start and run: no timeout', async () => {
    const { p } = run(scripted([{ at: 3 * TIMEOUT, phase: 'received' }, { at: 3 * TIMEOUT + 20, phase: 'started' }, { at: 3 * TIMEOUT + 100, reply: true }]));
    await expect(p).resolves.toBe(result);
  });

  it('a slow start-up under the timeout, then a run under the timeout: no timeout, though the two add up to more', async () => {
    const { p } = run(scripted([{ at: 0, phase: 'received' }, { at: 150, phase: 'started' }, { at: 300, reply: true }]));
    await expect(p).resolves.toBe(result);
  });

  it('a backend that never comes up: caught after the timeout of start-up', async () => {
    const { p } = run(scripted([{ at: 0, phase: 'received' }]));
    await expect(p).rejects.toThrow(`shard 0 failed after 1 attempts; last error: worker not ready after ${TIMEOUT} ms of start-up`);
  });

  it('a hung shard: caught after the timeout of running, and retried', async () => {
    const { p, reasons } = run(scripted([{ at: 0, phase: 'received' }, { at: 10, phase: 'started' }]), 1);
    await expect(p).rejects.toThrow(/failed after 2 attempts/);
    expect(reasons).toEqual([`no result after ${TIMEOUT} ms of running`]);
  });

  it('waiting in the queue forever is not a hang (the job, not the shard, decides)', async () => {
    const { p } = run(scripted([]));
    const settled = await Promise.race([p.then(() => 'settled', () => 'settled'), sleep(4 * TIMEOUT).then(() => 'pending')]);
    expect(settled).toBe('pending');
  });
});
