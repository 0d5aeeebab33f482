/**
 * The coordinator on real worker pools (threads and processes, W = 1…4, and the in-process pool of
 * --workers 0) reproduces the in-process
 * single-shard run: N = 37 in the default plan (shards of ⌈37/4W⌉) or in shards of 5, every quantity
 * (GGNMP/HMP with vectors, KFRA through its all-reduce, GradientNoiseScale, the MC quantities with
 * a fixed seed) within rtol 1e-6 of one shard; and with a fixed shard plan the results are bitwise
 * those of `runBatch` with the same plan, whatever the pool kind and worker count (shards merge in
 * shard order, randomness is keyed by global sample index).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunOptions } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { createPool } from '../../src/coordinator/create-pool.ts';
import { createInProcessPool } from '../../src/coordinator/in-process-pool.ts';
import type { WorkerPool } from '../../src/coordinator/pool.ts';
import { defaultShardSize, runJobOnPool } from '../../src/coordinator/run-job.ts';
import { SAVEFIELDS, type ExtensionName } from '../../src/vocabulary.ts';
import {
  disposeJob, expectBitwise, expectResultsClose, liveChildPids, makeJob, MC_QUANTITIES, POOL_KINDS, Reference,
  SHARD_PATH, WITH_VECTORS, type ModelName, type TestJob,
} from '../helpers/pool-fixtures.ts';

const N = 37;
const SHARD_SIZE = 5;
const WORKERS = [1, 2, 3, 4];
const RTOL = 1e-6;
/** Randomness of the MC quantities: a fixed seed and two MC samples. */
const MC = { seed: 9, mcSamples: 2 };
const MODELS: ModelName[] = ['cnn', 'mlp'];

const jobs = new Map<ModelName, { job: TestJob; ref: Reference }>();

beforeAll(async () => {
  await useBackend('wasm');
  for (const name of MODELS) {
    const job = makeJob(name, N);
    jobs.set(name, { job, ref: new Reference(job) });
  }
});

afterAll(() => {
  for (const { job } of jobs.values()) disposeJob(job);
  expect(liveChildPids(), 'worker processes left running').toEqual([]);
});

describe('the reference itself', () => {
  it('MC quantities depend on the seed (so equality below is not vacuous)', () => {
    const { ref } = jobs.get('cnn')!;
    const a = ref.get({ extensions: SHARD_PATH, ...MC });
    const b = ref.get({ extensions: SHARD_PATH, ...MC, seed: MC.seed + 1 });
    for (const q of MC_QUANTITIES) {
      // "0.weight.kfac.0" → savefield "kfac"
      const differs = [...a.results].some(([key, t]) => key.split('.')[2] === SAVEFIELDS[q] && t.data.some((v, i) => v !== b.results.get(key)!.data[i]));
      expect(differs, q).toBe(true);
    }
  });
});

const SETTINGS: [WorkerPool['kind'], number[]][] = [...POOL_KINDS.map((k): [WorkerPool['kind'], number[]] => [k, WORKERS]), ['in-process', [1]]];

describe.each(SETTINGS)('%s pool', (kind, workerCounts) => {
  describe.each(workerCounts)('W = %i', (W) => {
    let pool: WorkerPool;

    beforeAll(() => {
      pool = kind === 'in-process' ? createInProcessPool() : createPool(kind, W);
      expect(pool.size).toBe(W);
      expect(pool.kind).toBe(kind);
    });

    afterAll(async () => {
      await pool?.close();
      expect(liveChildPids(), 'worker processes left running after close').toEqual([]);
    });

    const run = (name: ModelName, extensions: ExtensionName[], shardSize?: number) => {
      const { job } = jobs.get(name)!;
      const vectors = extensions.includes('GGNMP') ? job.tensors.vectors : undefined;
      return runJobOnPool(pool, { ...job.tensors, vectors }, { extensions, shardSize, backend: 'wasm', ...MC });
    };

    /** Within RTOL of one in-process shard, bitwise equal to runBatch with the pool's shard plan. */
    const check = async (name: ModelName, extensions: ExtensionName[], shardSize: number | undefined) => {
      const { ref } = jobs.get(name)!;
      const result = await run(name, extensions, shardSize);
      const size = shardSize ?? defaultShardSize(N, W);
      const label = `${kind} W=${W} ${name} shardSize=${shardSize ?? `default (${size})`}`;
      expect(result.N).toBe(N);
      expect(result.shards, `${label}: shards`).toBe(Math.ceil(N / size));
      const opts: RunOptions = { extensions, ...MC };
      expectResultsClose(result, ref.get(opts), RTOL, `${label} vs one shard`);
      expectBitwise(result, ref.get({ ...opts, shardSize: size }), `${label} vs runBatch with shardSize ${size}`);
    };

    describe.each(MODELS)('%s', (name) => {
      it('the default plan (4 shards per worker), every quantity but KFRA and GGNMP/HMP (shard tasks)', () => check(name, SHARD_PATH, undefined));
      it(`shards of ${SHARD_SIZE}, with GGNMP/HMP on vectors (shard tasks)`, () => check(name, WITH_VECTORS, SHARD_SIZE));
      it('the default plan, KFRA (grouped shards + all-reduce)', () => check(name, ['KFRA', 'KFLR', 'DiagGGNMC'], undefined));
      it(`shards of ${SHARD_SIZE}, KFRA (several shards per group)`, () => check(name, ['KFRA', 'KFLR', 'DiagGGNMC'], SHARD_SIZE));
    });
  });
});
