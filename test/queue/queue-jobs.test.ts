/**
 * Queue mode end to end against a real Redis, with a queue worker in this process (one local
 * thread, so a queue shard is one micro-shard and results are bitwise those of runBatch with the
 * same shard size): uploaded and path tensors, results in Redis and on disk, per-batch and
 * accumulated datasets, priorities, cancellation, a deterministic failure that fails once while
 * other jobs run on, and the CLI commands.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch, type RunResult } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { sliceRows } from '../../src/core/inputs.ts';
import { LabelRangeError } from '../../src/errors/index.ts';
import { JobCancelledError, JobStateError } from '../../src/errors/queue-errors.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { cancelJob } from '../../queue/cancel.ts';
import { QueueContext } from '../../queue/context.ts';
import { readJobFile } from '../../queue/job-schema.ts';
import { fetchResult } from '../../queue/result.ts';
import { jobStatus, listJobs, waitForJob } from '../../queue/status.ts';
import { submitJob } from '../../queue/submit.ts';
import { startQueueWorker, type QueueWorker, type QueueWorkerOptions } from '../../queue/worker.ts';
import { runCli } from '../helpers/cli.ts';
import { expectResultsClose, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { closeQueueTest, countKeys, purge, readResults, sameBits, tempDir, testSettings, until, writeJob } from './helpers.ts';

const N = 37;
const EXTENSIONS: ExtensionName[] = ['BatchGrad', 'Variance', 'DiagGGNExact', 'DiagGGNMC', 'GradientNoiseScale'];
const BASE = { extensions: EXTENSIONS, seed: 5, mcSamples: 2 };

const settings = testSettings();
const tmp = tempDir('jobs');
let ctx: QueueContext;
let worker: QueueWorker;
const workerOpts: QueueWorkerOptions = { workers: 1, lockDurationMs: 10_000, stalledIntervalMs: 10_000, dataRoots: [tmp.dir], outputRoot: tmp.dir };
let job: TestJob;

const reference = (opts: { shardSize?: number; start?: number; count?: number } = {}): RunResult => {
  const { inputs, targets } = job.tensors;
  const [start, count] = [opts.start ?? 0, opts.count ?? inputs.shape[0]];
  return runBatch(job.net, sliceRows(inputs, start, count), sliceRows(targets, start, count), { ...BASE, shardSize: opts.shardSize });
};

async function submit(fields: Record<string, unknown>, dir = tmp.dir) {
  const file = await writeJob(dir, job, { extensions: EXTENSIONS, ...fields, options: { seed: 5, mcSamples: 2, ...(fields.options as object) } });
  return submitJob(ctx, await readJobFile(file));
}

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('cnn', N);
  ctx = await QueueContext.open(settings);
  worker = await startQueueWorker(settings, workerOpts);
});

afterAll(() => closeQueueTest({ worker, ctx, settings, tmp, job }));

describe('a job on the queue', () => {
  it('uploaded tensors, results in Redis: bitwise runBatch with the same shards, close to one shard', async () => {
    const s = await submit({ options: { shardSize: 8 } });
    expect(s).toMatchObject({ N, batches: 1, shards: 5 });
    const summary = await waitForJob(ctx, s.jobId);
    expect(summary.N).toBe(N);
    const out = path.join(tmp.dir, 'out-upload');
    await fetchResult(ctx, s.jobId, out);
    const got = await readResults(out);
    expect(sameBits(got, reference({ shardSize: 8 }))).toEqual([]);
    expectResultsClose(got, reference(), 1e-5, 'queue vs unsharded');
    // The job's tensors and partials are freed once it is done; status says where results are.
    expect(await countKeys(settings, `${ctx.keys.job(s.jobId)}:[tp]:*`)).toEqual([]);
    expect(await jobStatus(ctx, s.jobId)).toMatchObject({ state: 'completed', shardsDone: 5, shardsTotal: 5, samplesDone: N, resultsInRedis: true });
  });

  it('tensors read from paths, results written by the worker to output.dir (and not kept in Redis)', async () => {
    const dir = path.join(tmp.dir, 'out-paths');
    const s = await submit({ tensors: 'paths', output: { dir }, options: { shardSize: 16 } });
    await waitForJob(ctx, s.jobId);
    expect(sameBits(await readResults(dir), reference({ shardSize: 16 }))).toEqual([]);
    await expect(fetchResult(ctx, s.jobId, path.join(tmp.dir, 'nothing'))).rejects.toThrow(JobStateError);
  });

  it('a dataset of mini-batches: one result per batch, or one exact accumulation', async () => {
    const perBatch = await submit({ options: { batchSize: 15, shardSize: 4 } });
    expect(perBatch).toMatchObject({ batches: 3, shards: 4 + 4 + 2 });
    const summary = await waitForJob(ctx, perBatch.jobId);
    expect((summary.batches as unknown[]).length).toBe(3);
    const out = path.join(tmp.dir, 'out-batches');
    await fetchResult(ctx, perBatch.jobId, out);
    for (const [b, start, count] of [[0, 0, 15], [1, 15, 15], [2, 30, 7]]) {
      const got = await readResults(path.join(out, `batch-0000${b}`));
      expect(sameBits(got, reference({ shardSize: 4, start, count })), `batch ${b}`).toEqual([]);
    }
    const acc = await submit({ options: { batchSize: 15, accumulate: true } });
    expect(acc).toMatchObject({ batches: 1, shards: 3 });
    await waitForJob(ctx, acc.jobId);
    const accOut = path.join(tmp.dir, 'out-acc');
    await fetchResult(ctx, acc.jobId, accOut);
    expect(sameBits(await readResults(accOut), reference({ shardSize: 15 }))).toEqual([]);
  });

  it('KFRA, with one shard per batch, runs on the local pool (its all-reduce needs the whole batch)', async () => {
    const file = await writeJob(tmp.dir, job, { extensions: ['KFRA', 'KFLR'], options: { shardSize: N } });
    const s = await submitJob(ctx, await readJobFile(file));
    await waitForJob(ctx, s.jobId);
    const out = path.join(tmp.dir, 'out-kfra');
    await fetchResult(ctx, s.jobId, out);
    const expected = runBatch(job.net, job.tensors.inputs, job.tensors.targets, { extensions: ['KFRA', 'KFLR'] });
    expectResultsClose(await readResults(out), expected, 1e-5, 'KFRA');
  });

  it('priorities: the shards of a higher-priority job run first', async () => {
    const order: string[] = [];
    const onActive = (j: Job) => void order.push(String(j.data.jobId));
    await worker.bull.pause();
    try {
      const low = await submit({ priority: 50, options: { shardSize: 10 } });
      const high = await submit({ priority: 1, options: { shardSize: 10 } });
      worker.bull.on('active', onActive);
      worker.bull.resume();
      await Promise.all([waitForJob(ctx, low.jobId), waitForJob(ctx, high.jobId)]);
      // 4 shards + the reduce of the high-priority job, then the low one's.
      expect(order.slice(0, 5)).toEqual(Array(5).fill(high.jobId));
      expect(order.slice(5)).toEqual(Array(5).fill(low.jobId));
    } finally {
      worker.bull.off('active', onActive);
      worker.bull.resume();
    }
  });

  it('cancel: a queued job is removed, a running one stops within a second; other jobs keep running', async () => {
    await worker.bull.pause();
    const queued = await submit({ options: { shardSize: 10 } });
    await expect(cancelJob(ctx, queued.jobId)).resolves.toMatchObject({ removed: true, running: 0 });
    await expect(waitForJob(ctx, queued.jobId)).rejects.toThrow(JobCancelledError);
    expect(await countKeys(settings, `${ctx.keys.job(queued.jobId)}:t:*`)).toEqual([]);
    worker.bull.resume();

    workerOpts.debugShardDelayMs = 20_000;
    try {
      const running = await submit({ options: { shardSize: 10 } });
      await until('a shard of the job to run', async () => (await ctx.queue.getActiveCount()) > 0);
      const t0 = Date.now();
      await expect(cancelJob(ctx, running.jobId)).resolves.toMatchObject({ removed: false, running: 1 });
      await expect(waitForJob(ctx, running.jobId)).rejects.toThrow(JobCancelledError);
      await until('the cancelled shard to stop', async () => (await ctx.queue.getActiveCount()) === 0, 5000);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect((await jobStatus(ctx, running.jobId)).state).toBe('cancelled');
    } finally {
      workerOpts.debugShardDelayMs = 0;
    }
    const after = await submit({ options: { shardSize: 20 } });
    await expect(waitForJob(ctx, after.jobId)).resolves.toMatchObject({ N });
  });

  it('a job that fails deterministically in a worker fails once (no retries); a job beside it completes', async () => {
    const targets = { ...job.tensors.targets, data: Int32Array.from(job.tensors.targets.data as Int32Array) };
    (targets.data as Int32Array)[30] = 99; // class 99 of 3: found by the worker of shard 3 (samples 30..39)
    const badDir = tempDir('bad');
    try {
      const bad = await submitJob(ctx, await readJobFile(await writeJob(badDir.dir, job, { extensions: EXTENSIONS, options: { shardSize: 10, seed: 5, mcSamples: 2 } }, { targets })));
      const good = await submit({ options: { shardSize: 10 } });
      const err = await waitForJob(ctx, bad.jobId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LabelRangeError);
      expect((err as Error).message).toMatch(/label 99/);
      const shard = await ctx.queue.getJob(`${bad.jobId}-b0-s3`);
      expect(shard?.attemptsMade).toBe(1);
      expect(shard?.opts.attempts).toBe(3);
      expect(await jobStatus(ctx, bad.jobId)).toMatchObject({ state: 'failed' });
      await expect(waitForJob(ctx, good.jobId)).resolves.toMatchObject({ N });
    } finally {
      badDir.remove();
    }
  });
});

describe('the CLI', () => {
  const conn = ['--redis', settings.url, '--prefix', settings.prefix, '--queue', settings.queue];

  it('submit --wait --out, status, result, cancel', async () => {
    const file = await writeJob(tmp.dir, job, { extensions: EXTENSIONS, options: { shardSize: 12, seed: 5, mcSamples: 2 } });
    const out = path.join(tmp.dir, 'cli-out');
    const sub = await runCli(['submit', file, '--wait', '--out', out, '--quiet', ...conn]);
    expect(sub.stderr).toBe('');
    expect(sub.code).toBe(0);
    const id = sub.stdout.trim();
    expect(id).toMatch(/^j[0-9a-z]+$/);
    expect(sameBits(await readResults(out), reference({ shardSize: 12 }))).toEqual([]);

    const st = await runCli(['status', id, '--json', ...conn]);
    expect(JSON.parse(st.stdout)).toMatchObject({ jobId: id, state: 'completed', shardsDone: 4, shardsTotal: 4 });
    const table = await runCli(['status', ...conn]);
    expect(table.stdout).toContain(id);

    const again = path.join(tmp.dir, 'cli-again');
    const res = await runCli(['result', id, '--out', again, ...conn]);
    expect(res.code).toBe(0);
    expect(existsSync(path.join(again, 'results.safetensors'))).toBe(true);
    expect(sameBits(await readResults(again), await readResults(out))).toEqual([]);

    const cancel = await runCli(['cancel', id, ...conn]);
    expect(cancel.code).toBe(2);
    expect(cancel.stderr).toMatch(/JobStateError: job .* is already completed/);
    const missing = await runCli(['status', 'jnosuchjob0', ...conn]);
    expect(missing.stderr).toMatch(/error \[E_USAGE\] JobNotFoundError: no job 'jnosuchjob0'/);
    const glob = await runCli(['status', 'j*', ...conn]);
    expect(glob.code).toBe(2);
    expect(glob.stderr).toMatch(/error \[E_USAGE\] JobIdError: status: "j\*" is not a job id/);
    expect((await listJobs(ctx)).length).toBeGreaterThan(5);
  });

  it('dashboard without the optional bull-board packages: a clear error naming them', async () => {
    const r = await runCli(['dashboard', ...conn]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/OptionalPackageError: the dashboard needs the optional packages @bull-board\/api, @bull-board\/express, express/);
  });
});
