/**
 * Failures on real worker pools (threads and processes, W = 2), injected through the FaultInjection
 * test hook: a worker that exits mid-shard, throws (non-deterministically) or hangs is replaced and
 * its shard retried, and the job's result is bitwise the fault-free one with every shard counted
 * once; retries are bounded (ShardFailedError naming the shard); deterministic errors fail fast,
 * without retries; and a pool keeps serving jobs after any of these.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { createPool } from '../../src/coordinator/create-pool.ts';
import { ShardFailedError } from '../../src/coordinator/dispatch.ts';
import type { WorkerPool } from '../../src/coordinator/pool.ts';
import { runJobOnPool, type PoolJobOptions, type Progress } from '../../src/coordinator/run-job.ts';
import { BackpackError, LabelRangeError, NonFiniteError, UsageError } from '../../src/errors/index.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { disposeJob, expectBitwise, faultCounter, leftoverWorkerDirs, liveChildPids, makeJob, POOL_KINDS, Reference, type TestJob } from '../helpers/pool-fixtures.ts';

const N = 37;
const SHARD_SIZE = 5;
const SHARDS = Math.ceil(N / SHARD_SIZE); // 8
const FAULTY = 3;
const W = 2;
const EXTENSIONS: ExtensionName[] = ['BatchGrad', 'Variance', 'DiagGGNExact', 'DiagGGNMC'];
const BASE = { extensions: EXTENSIONS, shardSize: SHARD_SIZE, seed: 5, mcSamples: 2, backend: 'wasm' } satisfies PoolJobOptions;

/** A pool that records which shard every attempt ran (one run() call per attempt). */
function counting(pool: WorkerPool): { pool: WorkerPool; attempts: number[]; of: (shardId: number) => number } {
  const attempts: number[] = [];
  const wrapped: WorkerPool = {
    kind: pool.kind,
    size: pool.size,
    run: (task, signal, onPhase) => {
      attempts.push(task.type === 'shard' ? task.shard.shardId : -1);
      return pool.run(task, signal, onPhase);
    },
    close: () => pool.close(),
  };
  return { pool: wrapped, attempts, of: (id) => attempts.filter((s) => s === id).length };
}

/** onRetry calls as [what, attempt, reason]. */
function retryLog() {
  const calls: [string, number, string][] = [];
  return { calls, onRetry: (what: string, attempt: number, reason: string) => void calls.push([what, attempt, reason]) };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the job to fail');
}

let job: TestJob;
let reference: RunResult;

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('cnn', N);
  reference = new Reference(job).get(BASE);
});

afterAll(() => {
  disposeJob(job);
  expect(liveChildPids(), 'worker processes left running').toEqual([]);
});

describe.each(POOL_KINDS)('%s pool', (kind) => {
  let pool: WorkerPool;
  const run = (opts: Partial<PoolJobOptions> = {}, p: WorkerPool = pool, tensors = job.tensors) =>
    runJobOnPool(p, { ...tensors, vectors: undefined }, { ...BASE, ...opts });

  /** Worker processes seen during these tests (killed ones included). */
  const seen = new Set<number>();
  const note = () => liveChildPids().forEach((pid) => seen.add(pid));

  beforeAll(() => {
    pool = createPool(kind, W);
    note();
  });

  afterEach(note);

  afterAll(async () => {
    await pool?.close();
    expect(liveChildPids(), 'worker processes left running after close').toEqual([]);
    if (kind === 'processes') {
      expect(seen.size).toBeGreaterThan(W); // some were killed and replaced
      expect(leftoverWorkerDirs(seen), 'worker directories left in /dev/shm').toEqual([]);
    }
  });

  it('fault-free: equals runBatch with the same shard plan, bitwise', async () => {
    expectBitwise(await run(), reference, `${kind} fault-free`);
    // Warm every worker (tfjs loaded, replica built) so the timeout below only catches the hang.
    await run({ shardSize: 1 });
  });

  it('a hung shard times out, its worker is replaced, it is retried and counted exactly once', async () => {
    note();
    const before = liveChildPids();
    const progress: Progress[] = [];
    const retries = retryLog();
    const counter = faultCounter(1);
    const t0 = performance.now();
    const result = await run({ shardTimeoutMs: 1500, fault: { kind: 'hang', shardId: FAULTY, times: 1, counter }, onProgress: (p) => progress.push(p), onRetry: retries.onRetry });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1400);
    expectBitwise(result, reference, `${kind} after a hang`);
    expect(result.shards).toBe(SHARDS);
    // Progress: one report per shard, no shard twice, all samples once.
    expect(progress.map((p) => p.shardsDone)).toEqual(Array.from({ length: SHARDS }, (_, i) => i + 1));
    expect(progress.every((p) => p.shardsTotal === SHARDS && p.N === N)).toBe(true);
    expect(progress.at(-1)!.samplesDone).toBe(N);
    const faulty = retries.calls.filter(([what]) => what === `shard ${FAULTY}`);
    expect(faulty.length).toBeGreaterThanOrEqual(1);
    expect(faulty[0]).toEqual([`shard ${FAULTY}`, 1, expect.stringMatching(/no result after 1500 ms of running/)]);
    expect(Atomics.load(new Int32Array(counter), 0)).toBeLessThan(0); // sabotaged once, then ran clean
    if (kind === 'processes') {
      // The hung process was killed and a fresh one took its place.
      expect(before).toHaveLength(W);
      let after = liveChildPids();
      // (The killed one is reaped, then its replacement forked: poll until both happened.)
      for (let i = 0; i < 50 && (after.length !== W || before.every((pid) => after.includes(pid))); i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = liveChildPids();
      }
      expect(after).toHaveLength(W);
      expect(before.filter((pid) => !after.includes(pid))).toHaveLength(1);
    }
  });

  it('a worker that exits mid-shard is replaced; the job completes bitwise; the pool serves the next job', async () => {
    const spy = counting(pool);
    const retries = retryLog();
    const counter = faultCounter(1);
    const result = await run({ fault: { kind: 'exit', shardId: FAULTY, times: 1, counter }, onRetry: retries.onRetry }, spy.pool);
    expectBitwise(result, reference, `${kind} after an exit`);
    expect(retries.calls).toEqual([[`shard ${FAULTY}`, 1, expect.stringMatching(/exit/)]]);
    expect(spy.of(FAULTY)).toBe(2);
    for (let s = 0; s < SHARDS; s++) if (s !== FAULTY) expect(spy.of(s), `attempts of shard ${s}`).toBe(1);
    expect(Atomics.load(new Int32Array(counter), 0)).toBe(-1);
    expectBitwise(await run(), reference, `${kind} next job`);
  });

  it('a non-deterministic error twice: completes with retries = 2, fails with retries = 1 (ShardFailedError naming the shard)', async () => {
    const ok = counting(pool);
    const okRetries = retryLog();
    const result = await run({ retries: 2, fault: { kind: 'throw', shardId: FAULTY, times: 2, counter: faultCounter(2) }, onRetry: okRetries.onRetry }, ok.pool);
    expectBitwise(result, reference, `${kind} after two throws`);
    expect(okRetries.calls).toEqual([1, 2].map((a) => [`shard ${FAULTY}`, a, `injected failure on shard ${FAULTY}`]));
    expect(ok.of(FAULTY)).toBe(3);

    const bad = counting(pool);
    const badRetries = retryLog();
    const err = await rejection(run({ retries: 1, fault: { kind: 'throw', shardId: FAULTY, times: 2, counter: faultCounter(2) }, onRetry: badRetries.onRetry }, bad.pool));
    expect(err).toBeInstanceOf(ShardFailedError);
    expect(err.message).toMatch(new RegExp(`^shard ${FAULTY} failed after 2 attempts; last error: injected failure on shard ${FAULTY}`));
    // One retry of the faulty shard; the shards aborted with the job are not reported as retries.
    expect(badRetries.calls).toEqual([[`shard ${FAULTY}`, 1, `injected failure on shard ${FAULTY}`]]);
    expect(bad.of(FAULTY)).toBe(2);
  });

  describe('deterministic errors fail fast, without retries', () => {
    const withTargets = (change: (data: Int32Array) => void) => {
      const t = job.tensors.targets; // int32 class labels
      const data = (t.data as Int32Array).slice();
      change(data);
      return { ...job.tensors, targets: { ...t, data } as HostTensor };
    };

    it('a label out of range in one shard is rejected before dispatch (LabelRangeError, global sample index)', async () => {
      const spy = counting(pool);
      const retries = retryLog();
      const tensors = withTargets((d) => void (d[12] = 7)); // shard 2 holds samples 10…14
      const err = await rejection(runJobOnPool(spy.pool, { ...tensors, vectors: undefined }, { ...BASE, onRetry: retries.onRetry }));
      expect(err).toBeInstanceOf(LabelRangeError);
      expect((err as BackpackError).code).toBe('E_LABEL_RANGE');
      expect(err.message).toMatch(/label 7 of sample 12 /);
      expect(spy.attempts).toEqual([]);
      expect(retries.calls).toEqual([]);
    });

    it('NaN in one sample is rejected before dispatch (NonFiniteError)', async () => {
      const spy = counting(pool);
      const retries = retryLog();
      const x = job.tensors.inputs;
      const data = (x.data as Float32Array).slice();
      data[23 * 36 + 4] = Number.NaN; // sample 23, feature 4
      const err = await rejection(runJobOnPool(spy.pool, { ...job.tensors, inputs: { ...x, data }, vectors: undefined }, { ...BASE, onRetry: retries.onRetry }));
      expect(err).toBeInstanceOf(NonFiniteError);
      expect(err.message).toMatch(/sample 23 .*feature 4/);
      expect(spy.attempts).toEqual([]);
      expect(retries.calls).toEqual([]);
    });

    it('a deterministic error raised in the workers keeps its class and is never retried', async () => {
      // GGNMP without vectors passes the coordinator's checks and fails in every worker.
      const spy = counting(pool);
      const retries = retryLog();
      const err = await rejection(run({ extensions: ['GGNMP'], retries: 2, onRetry: retries.onRetry }, spy.pool));
      expect(err).toBeInstanceOf(UsageError);
      expect((err as BackpackError).deterministic).toBe(true);
      expect(err.message).toMatch(/GGNMP needs vectors/);
      // The reasons, should a shard ever be retried here, name what failed it (a worker's death, …).
      expect(retries.calls, JSON.stringify(retries.calls)).toEqual([]);
      expect(spy.attempts.length).toBeGreaterThanOrEqual(1);
      for (let s = 0; s < SHARDS; s++) expect(spy.of(s), `attempts of shard ${s}`).toBeLessThanOrEqual(1);
    });
  });

  it("a job aborted by its caller (a cancelled queue job) stops its running tasks at once, without retries", async () => {
    note();
    const spy = counting(pool);
    const retries = retryLog();
    const caller = new AbortController();
    // Shard 0 would hang for ten minutes: only stopping it where it runs ends the job in time.
    const p = run({ signal: caller.signal, retries: 2, onRetry: retries.onRetry, fault: { kind: 'hang', shardId: 0, times: 1, counter: faultCounter(1) } }, spy.pool);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const t0 = performance.now();
    caller.abort();
    const err = await rejection(p);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(ShardFailedError);
    expect(err.message).toMatch(/job aborted/);
    expect(retries.calls).toEqual([]);
    for (let s = 0; s < SHARDS; s++) expect(spy.of(s), `attempts of shard ${s}`).toBeLessThanOrEqual(1);
  });

  it('after failed jobs the same pool runs a good job correctly', async () => {
    const progress: Progress[] = [];
    const result = await run({ onProgress: (p) => progress.push(p) });
    expectBitwise(result, reference, `${kind} after failures`);
    expect(progress.map((p) => p.shardsDone)).toEqual(Array.from({ length: SHARDS }, (_, i) => i + 1));
    if (kind === 'processes') expect(liveChildPids()).toHaveLength(W);
  });
});
