/**
 * The process pool after an aborted task. Aborting kills the child; a reply it had already sent
 * may still arrive. That reply must not free the slot: the next task would go to the dying child
 * and fail with a spurious exit, which is how a healthy shard of the next job got retried (the
 * flaky "deterministic errors fail fast, without retries" of failures.test.ts, issue 14).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { createPool } from '../../src/coordinator/create-pool.ts';
import { prepareJob } from '../../src/coordinator/job-context.ts';
import type { WorkerPool } from '../../src/coordinator/pool.ts';
import type { ShardTask } from '../../src/protocol/messages.ts';
import { disposeJob, liveChildPids, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';

let job: TestJob;
let pool: WorkerPool;

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('mlp', 8);
  pool = createPool('processes', 1);
});

afterAll(async () => {
  await pool.close();
  disposeJob(job);
  expect(liveChildPids()).toEqual([]);
});

/** Blocks this thread, so messages and exits of children pile up unprocessed. */
const block = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

it('a reply that crosses the kill of its aborted task does not hand the next task to the dying child', async () => {
  const { job: ctx, cleanup } = prepareJob('processes', { ...job.tensors, vectors: undefined }, { backend: 'wasm', threads: 1, extensions: ['BatchGrad'], seed: 0, mcSamples: 1 });
  const task: ShardTask = { type: 'shard', job: ctx, shard: { shardId: 0, offset: 0, count: 8 } };
  try {
    const never = new AbortController().signal;
    expect((await pool.run(task, never)).ok).toBe(true); // warm: backend and replica ready
    for (let round = 0; round < 5; round++) {
      const abort = new AbortController();
      const first = pool.run(task, abort.signal);
      first.catch(() => {});
      await new Promise((r) => setImmediate(r)); // the task is sent
      // The child computes and replies while this thread is blocked; the abort then kills it with
      // its reply already in the pipe, and the next task is queued behind it.
      block(400);
      abort.abort('job aborted');
      const next = pool.run(task, never);
      await expect(first).rejects.toThrow(/aborted/);
      const reply = await next;
      expect(reply.ok, `round ${round}: ${reply.ok ? '' : reply.error.message}`).toBe(true);
    }
  } finally {
    cleanup();
  }
});
