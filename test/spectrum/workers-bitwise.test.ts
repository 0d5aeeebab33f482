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
import { spectralDensity } from '../../src/spectrum/density.ts';
import { extremeEigenvalues } from '../../src/spectrum/eigenvalues.ts';
import { hutchinson, hutchpp } from '../../src/spectrum/trace.ts';
import { disposeJob, liveChildPids, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';

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

/** Every number of a spectrum run, in a fixed order. */
async function spectrumNumbers(pool: WorkerPool, seed: number): Promise<Float64Array> {
  const data = tensorData(job.tensors.inputs, job.tensors.targets, 10);
  const out: number[] = [];
  for (const curvature of ['ggn', 'hessian'] as const) {
    const op = curvatureOperator(pool, job.net, job.tensors.weights, data, { curvature, shardSize: 4, backend: 'wasm', vectorsPerPass: 3 });
    const e = await extremeEigenvalues(op, { top: 3, bottom: 2, maxIterations: 12, seed, eigenvectors: true });
    for (const p of [...e.top, ...e.bottom]) out.push(p.value, p.residual, ...p.vector!);
    const h = await hutchinson(op, { products: 5, seed, batch: 5 });
    const pp = await hutchpp(op, { products: 9, seed });
    const d = await spectralDensity(op, { probes: 3, steps: 5, seed, parallelProbes: 2, gridPoints: 16 });
    out.push(h.estimate, h.stdError, pp.estimate, pp.stdError, ...d.nodes, ...d.weights, ...d.density, op.loss);
  }
  return Float64Array.from(out);
}

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
      results.set(label, await spectrumNumbers(pool, 5));
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
    const other = await spectrumNumbers(pool, 6);
    const reference = results.get(SETTINGS[0][0])!;
    expect(other.some((v, i) => v !== reference[i])).toBe(true);
  }, 120_000);
});
