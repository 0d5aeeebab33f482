/**
 * Queue behaviour a user relies on, against a real Redis: a job's results do not depend on how many
 * local threads its worker has (bitwise those of runBatch with the job's shard size); cancel
 * removes queued shards at once, stops running ones within a second, returns at once without
 * BullMQ's internals in its output, and leaves a job whose status says it has no results, as
 * `result` does.
 */
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch, type RunResult } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { QueueContext } from '../../queue/context.ts';
import { readJobFile } from '../../queue/job-schema.ts';
import { shardJobId } from '../../queue/keys.ts';
import { fetchResult } from '../../queue/result.ts';
import { jobStatus, waitForJob } from '../../queue/status.ts';
import { submitJob } from '../../queue/submit.ts';
import { startQueueWorker, type QueueWorker, type QueueWorkerOptions } from '../../queue/worker.ts';
import { runCli } from '../helpers/cli.ts';
import { disposeJob, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { purge, readResults, sameBits, tempDir, testSettings, until, writeJob } from './helpers.ts';

const N = 37;
const EXTENSIONS: ExtensionName[] = ['BatchGrad', 'Variance', 'DiagGGNExact'];
const settings = testSettings();
const tmp = tempDir('cancel');
const conn = ['--redis', settings.url, '--prefix', settings.prefix, '--queue', settings.queue];
let ctx: QueueContext;
let job: TestJob;
const workers: QueueWorker[] = [];

const reference = (shardSize: number): RunResult => runBatch(job.net, job.tensors.inputs, job.tensors.targets, { extensions: EXTENSIONS, seed: 2, shardSize });

async function submit(shardSize: number) {
  const file = await writeJob(tmp.dir, job, { extensions: EXTENSIONS, options: { shardSize, seed: 2 } });
  return submitJob(ctx, await readJobFile(file));
}

async function worker(opts: Partial<QueueWorkerOptions>): Promise<QueueWorker> {
  const w = await startQueueWorker(settings, { workers: 1, lockDurationMs: 10_000, stalledIntervalMs: 10_000, ...opts });
  workers.push(w);
  return w;
}

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('cnn', N, 5);
  ctx = await QueueContext.open(settings);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close(true)));
  await ctx?.close();
  await purge(settings);
  tmp.remove();
  if (job) disposeJob(job);
});

describe('results do not depend on the local thread count', () => {
  it("a worker with 3 local threads gives bitwise the results of runBatch with the job's shard size (a shard is never split over local threads)", async () => {
    const w = await worker({ workers: 3 });
    const s = await submit(10);
    await waitForJob(ctx, s.jobId);
    const got = await readResults(await fetched(s.jobId, 'three'));
    expect(sameBits(got, reference(10))).toEqual([]);
    await w.close();
    workers.splice(workers.indexOf(w), 1);
  }, 120_000);
});

async function fetched(jobId: string, name: string): Promise<string> {
  const out = `${tmp.dir}/out-${name}`;
  await fetchResult(ctx, jobId, out);
  return out;
}

describe('cancel', () => {
  it('with no worker: every shard is removed at once and the job has no results (status and result agree)', async () => {
    const s = await submit(4); // 10 shards
    const r = await runCli(['cancel', s.jobId, ...conn]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`cancelled ${s.jobId}\n`);
    expect(r.stderr).toBe(`job ${s.jobId}: cancelled; 10 queued shard(s) removed\n`);
    const states = await Promise.all(Array.from({ length: 10 }, (_, i) => ctx.queue.getJobState(shardJobId(s.jobId, 0, i))));
    expect(states).toEqual(Array(10).fill('unknown'));
    const st = await runCli(['status', s.jobId, '--json', ...conn]);
    expect(JSON.parse(st.stdout)).toMatchObject({ state: 'cancelled', resultsInRedis: false });
    const res = await runCli(['result', s.jobId, '--out', `${tmp.dir}/none`, ...conn]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/JobStateError: job .* is cancelled; results exist only for completed jobs/);
  });

  it('with a shard running: the queued ones are gone at once, the running one stops within a second, no shard completes after it', async () => {
    const w = await worker({ workers: 1, concurrency: 1, debugShardDelayMs: 30_000 });
    const s = await submit(4); // 10 shards, one running (delayed), nine queued
    const active: Job[] = [];
    await until('a shard to run', async () => (active.push(...(await ctx.queue.getActive())), active.length > 0));
    const t0 = Date.now();
    const r = await runCli(['cancel', s.jobId, ...conn]);
    const ms = Date.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    expect(ms).toBeLessThan(2000);
    // (The in-process worker logs to the same stderr.)
    expect(r.stderr).toContain(`job ${s.jobId}: cancelled; 9 queued shard(s) removed, 1 running shard(s) stop within a second\n`);
    expect(r.stderr).not.toMatch(/locked/);
    const counts = await ctx.queue.getJobCounts('waiting', 'prioritized', 'delayed');
    expect(counts).toEqual({ waiting: 0, prioritized: 0, delayed: 0 });
    const doneAtCancel = (await jobStatus(ctx, s.jobId)).shardsDone;
    await until('the running shard to stop', async () => (await ctx.queue.getActiveCount()) === 0, 1500, 50);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await jobStatus(ctx, s.jobId);
    expect(after).toMatchObject({ state: 'cancelled', shardsDone: doneAtCancel, resultsInRedis: false });
    await w.close(true);
    workers.splice(workers.indexOf(w), 1);
  }, 120_000);
});
