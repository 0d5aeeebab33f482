/**
 * A thread pool gives its workers the coordinator's spent float64 sums back (ShardTask.spares), so
 * the next job's partials reuse those pages: jobs in a row on one pool must stay bitwise those of
 * `runBatch` with the same shard plan (no array reused while something still reads it), an earlier
 * job's results must not change when later jobs run, and the arrays must really travel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { createPool } from '../../src/coordinator/create-pool.ts';
import type { WorkerPool } from '../../src/coordinator/pool.ts';
import { runJobOnPool } from '../../src/coordinator/run-job.ts';
import { runBatch, type RunResult } from '../../src/api/run.ts';
import { poolCounters } from '../../src/io/host-buffers.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { DEFAULT_BACKEND } from '../helpers/backends.ts';
import { disposeJob, expectBitwise, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';

const N = 48;
const SHARD_SIZE = 12;
const EXTENSIONS: ExtensionName[] = ['SumGradSquared', 'Variance', 'KFAC', 'BatchL2Grad'];

/** A deep copy of a result's tensors, to check later that nothing overwrote them. */
const snapshot = (r: RunResult) => new Map([...r.results].map(([k, t]) => [k, { ...t, data: (t.data as Float32Array).slice() }]));

describe(`a thread pool's jobs in a row reuse the sums' arrays (${DEFAULT_BACKEND})`, () => {
  let pool: WorkerPool;
  const jobs: TestJob[] = [];

  beforeAll(async () => {
    await useBackend(DEFAULT_BACKEND);
    pool = createPool('threads', 2);
    jobs.push(makeJob('wide', N, 1), makeJob('wide', N, 2));
  });
  afterAll(async () => {
    await pool.close();
    jobs.forEach(disposeJob);
  });

  it('A, B, A, B: each bitwise its runBatch, earlier results untouched, spares sent and adopted', async () => {
    const opts = { extensions: EXTENSIONS, shardSize: SHARD_SIZE, seed: 3 };
    const expected = jobs.map((j) => runBatch(j.net, j.tensors.inputs, j.tensors.targets, opts));
    const sentBefore = poolCounters.sent;
    const runs: RunResult[] = [];
    const kept: ReturnType<typeof snapshot>[] = [];
    for (const i of [0, 1, 0, 1]) {
      const r = await runJobOnPool(pool, jobs[i].tensors, { ...opts, backend: DEFAULT_BACKEND, threads: 1 });
      expectBitwise(r, expected[i], `job ${runs.length} (${i ? 'B' : 'A'})`);
      runs.push(r);
      kept.push(snapshot(r));
    }
    runs.forEach((r, k) => expectBitwise(r, { ...r, results: kept[k] }, `job ${k} after the later jobs`));
    // Every job after the first sends arrays back (4 shards, each with sums above the pool's minimum).
    expect(poolCounters.sent - sentBefore).toBeGreaterThanOrEqual(3 * 4);
    expect(poolCounters.adopted).toBeGreaterThan(0);
  }, 120_000);
});
