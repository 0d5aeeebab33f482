/**
 * --shard-timeout counts running time only. A healthy job of 32 shards of ~0.3 s on 2 workers runs
 * ~5 s, so its last shards wait in the pool's queue far longer than a 2.5 s timeout: it must
 * complete without a retry, also when a worker dies and its replacement starts up meanwhile; and
 * a shard that really hangs is still detected within the timeout and retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { createPool } from '../../src/coordinator/create-pool.ts';
import type { WorkerPool } from '../../src/coordinator/pool.ts';
import { runJobOnPool, type PoolJobOptions } from '../../src/coordinator/run-job.ts';
import { disposeJob, expectBitwise, faultCounter, liveChildPids, makeJob, POOL_KINDS, Reference, type TestJob } from '../helpers/pool-fixtures.ts';

const N = 64;
const SHARD_SIZE = 2; // 32 shards
const DELAY_MS = 300;
const TIMEOUT_MS = 2500;
const W = 2;
const BASE = { extensions: ['BatchGrad', 'Variance'], shardSize: SHARD_SIZE, seed: 3, backend: 'wasm' } satisfies PoolJobOptions;

let job: TestJob;
let reference: RunResult;

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('mlp', N);
  reference = new Reference(job).get(BASE);
});

afterAll(() => {
  disposeJob(job);
  expect(liveChildPids(), 'worker processes left running').toEqual([]);
});

describe.each(POOL_KINDS)('%s pool, 32 shards of ~0.3 s, 2 workers, --shard-timeout 2.5 s', (kind) => {
  let pool: WorkerPool;
  beforeAll(() => {
    pool = createPool(kind, W);
  });
  afterAll(async () => {
    await pool?.close();
  });

  const run = async (opts: Partial<PoolJobOptions> = {}) => {
    const retries: [string, number, string][] = [];
    const t0 = performance.now();
    const result = await runJobOnPool(pool, { ...job.tensors, vectors: undefined }, {
      ...BASE, shardTimeoutMs: TIMEOUT_MS, delayMs: DELAY_MS, onRetry: (what, attempt, reason) => void retries.push([what, attempt, reason]), ...opts,
    });
    return { result, retries, ms: performance.now() - t0 };
  };

  it('healthy shards: completes without a retry though the last shards queue longer than the timeout', async () => {
    const { result, retries, ms } = await run();
    expect(retries).toEqual([]);
    expect(result.shards).toBe(32);
    // 32 × 0.3 s over 2 workers: the last shards were queued for more than the timeout.
    expect(ms).toBeGreaterThan((32 * DELAY_MS) / W);
    expect(ms).toBeGreaterThan(TIMEOUT_MS);
    expectBitwise(result, reference, `${kind} healthy`);
  });

  it('a worker that dies is replaced; its replacement’s start-up and the queue do not count: one retry only', async () => {
    const { result, retries } = await run({ fault: { kind: 'exit', shardId: 5, times: 1, counter: faultCounter(1) } });
    expect(retries).toEqual([['shard 5', 1, expect.stringMatching(/exit/)]]);
    expectBitwise(result, reference, `${kind} after an exit`);
  });

  it('a genuinely hung shard is still detected after 2.5 s of running, retried, and the job completes', async () => {
    const { result, retries } = await run({ fault: { kind: 'hang', shardId: 7, times: 1, counter: faultCounter(1) } });
    expect(retries).toEqual([['shard 7', 1, `no result after ${TIMEOUT_MS} ms of running`]]);
    expectBitwise(result, reference, `${kind} after a hang`);
  });
});
