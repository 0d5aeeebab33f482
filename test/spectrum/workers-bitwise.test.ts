/**
 * A spectrum does not depend on how its products were split over workers: with the same seed,
 * shard size and batch size, the eigenvalues and eigenvectors (Lanczos), the trace estimates
 * (Hutchinson, Hutch++) and the density (SLQ) are bitwise identical on 1 and 3 worker threads, 2
 * worker processes and in this process. (Shards are summed in shard order in float64; probes are
 * keyed by seed and index.) And they are not vacuously equal: another seed changes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { createPool } from '../../src/coordinator/create-pool.ts';
import { createInProcessPool } from '../../src/coordinator/in-process-pool.ts';
import type { WorkerPool } from '../../src/coordinator/pool.ts';
import { curvatureOperator } from '../../src/spectrum/curvature-operator.ts';
import { tensorData } from '../../src/spectrum/data.ts';
import { disposeJob, liveChildPids, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { spectrumNumbers } from '../helpers/spectrum-numbers.ts';

const N = 23;
let job: TestJob;

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('mlp', N);
});

afterAll(() => {
  disposeJob(job);
  expect(liveChildPids(), 'worker processes left running').toEqual([]);
});

const numbers = (pool: WorkerPool, seed: number) => spectrumNumbers(async (curvature) =>
  curvatureOperator(pool, job.net, job.tensors.weights, tensorData(job.tensors.inputs, job.tensors.targets, 12), { curvature, shardSize: 4, backend: 'wasm', vectorsPerPass: 3 }), seed);

const SETTINGS: [string, () => WorkerPool][] = [
  ['1 worker thread', () => createPool('threads', 1)],
  ['3 worker threads', () => createPool('threads', 3)],
  ['2 worker processes', () => createPool('processes', 2)],
  ['in this process', () => createInProcessPool()],
];

describe('bitwise identical spectra', () => {
  const results = new Map<string, Float64Array>();

  it.each(SETTINGS)('%s', async (label, make) => {
    const pool = make();
    try {
      results.set(label, await numbers(pool, 5));
    } finally {
      await pool.close();
    }
    const reference = results.get(SETTINGS[0][0])!;
    const got = results.get(label)!;
    expect(got.length).toBe(reference.length);
    const differing = got.findIndex((v, i) => !Object.is(v, reference[i]));
    expect(differing, `${label}: first differing number`).toBe(-1);
  }, 120_000);

  it('another seed gives other numbers (the equality is not vacuous)', async () => {
    const pool = createInProcessPool();
    const other = await numbers(pool, 6);
    const reference = results.get(SETTINGS[0][0])!;
    expect(other.some((v, i) => v !== reference[i])).toBe(true);
  }, 120_000);
});
