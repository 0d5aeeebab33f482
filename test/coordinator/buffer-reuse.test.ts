/**
 * What a thread pool reuses from one job to the next, and must never reuse wrongly:
 * - the coordinator's spent float64 sums and released per-sample rows go back to the workers
 *   (ShardTask.spares), so the next job's partials reuse those pages: jobs in a row must stay bitwise those of `runBatch` with the
 *   same shard plan (no array reused while something still reads it), an earlier job's results must
 *   not change when later jobs run, and the arrays must really travel;
 * - the weights' shared copies and model key (job-context.ts) are reused only while the weights are
 *   byte-for-byte the same: weights changed in place between jobs must be the ones used.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { createPool } from '../../src/coordinator/create-pool.ts';
import type { WorkerPool } from '../../src/coordinator/pool.ts';
import { runJobOnPool } from '../../src/coordinator/run-job.ts';
import { releaseResults, runBatch, type RunResult } from '../../src/api/run.ts';
import { poolCounters } from '../../src/io/host-buffers.ts';
import { buildNetwork, disposeNetwork } from '../../src/nn/network.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { DEFAULT_BACKEND } from '../helpers/backends.ts';
import { disposeJob, expectBitwise, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';

const N = 48;
const SHARD_SIZE = 12;
const EXTENSIONS: ExtensionName[] = ['SumGradSquared', 'Variance', 'KFAC', 'BatchL2Grad', 'BatchGrad'];

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
    // Released results (a loop over batches does this) feed the next job's rows: still exact.
    const sentMid = poolCounters.sent;
    for (const i of [0, 1, 0]) {
      const r = await runJobOnPool(pool, jobs[i].tensors, { ...opts, backend: DEFAULT_BACKEND, threads: 1 });
      expectBitwise(r, expected[i], `released-results job (${i ? 'B' : 'A'})`);
      releaseResults(r);
    }
    expect(poolCounters.sent - sentMid, 'rows arrays sent back too').toBeGreaterThan(2 * 4);
    // Every job after the first sends arrays back (4 shards, each with sums above the pool's minimum).
    expect(poolCounters.sent - sentBefore).toBeGreaterThanOrEqual(3 * 4);
    expect(poolCounters.adopted).toBeGreaterThan(0);
  }, 120_000);

  it('weights changed in place between jobs (same Map, same arrays) are the ones the next job uses', async () => {
    const job = makeJob('wide', N, 5);
    jobs.push(job);
    const opts = { extensions: ['SumGradSquared'] as ExtensionName[], shardSize: SHARD_SIZE };
    const first = await runJobOnPool(pool, job.tensors, { ...opts, backend: DEFAULT_BACKEND, threads: 1 });
    const again = await runJobOnPool(pool, job.tensors, { ...opts, backend: DEFAULT_BACKEND, threads: 1 });
    expectBitwise(again, first, 'unchanged weights');
    // One value of the first layer's weight, changed where it lies (a training step in place).
    const w = job.tensors.weights.get('0.weight')!.data as Float32Array;
    w[123] += 0.5;
    const changed = await runJobOnPool(pool, job.tensors, { ...opts, backend: DEFAULT_BACKEND, threads: 1 });
    const rebuilt = makeJob('wide', N, 5);
    (rebuilt.tensors.weights.get('0.weight')!.data as Float32Array)[123] += 0.5;
    jobs.push(rebuilt);
    // The oracle: a network built from scratch with the changed weights, run in this thread.
    const net = buildNetwork(rebuilt.tensors.spec, rebuilt.tensors.weights);
    try {
      expectBitwise(changed, runBatch(net, rebuilt.tensors.inputs, rebuilt.tensors.targets, opts), 'changed weights');
    } finally {
      disposeNetwork(net);
    }
    expect(Buffer.from((changed.results.get('0.weight.sum_grad_squared')!.data as Float32Array).buffer).equals(Buffer.from((first.results.get('0.weight.sum_grad_squared')!.data as Float32Array).buffer))).toBe(false);
  }, 120_000);
});
