/**
 * Against a PRIVATE redis-server (free loopback port, AOF with appendfsync always, data in a temp
 * dir; the shared Redis is never restarted): Redis killed and restarted in the middle of a job →
 * the job completes, every shard counted once, the result bitwise the fault-free one. And an
 * upload that Redis refuses midway (maxmemory) leaves nothing of the job behind.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { PayloadTooLargeError } from '../../src/errors/queue-errors.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { QueueContext } from '../../queue/context.ts';
import { readJobFile } from '../../queue/job-schema.ts';
import { fetchResult } from '../../queue/result.ts';
import { jobStatus, waitForJob } from '../../queue/status.ts';
import { submitJob } from '../../queue/submit.ts';
import { startQueueWorker, type QueueWorker } from '../../queue/worker.ts';
import { disposeJob, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { countKeys, OwnRedis, readResults, sameBits, sleep, tempDir, testSettings, until, writeJob } from './helpers.ts';

const N = 36;
const EXTENSIONS: ExtensionName[] = ['BatchL2Grad', 'SumGradSquared', 'DiagHessian'];
const tmp = tempDir('restart');
const data = tempDir('redis-data');
let redis: OwnRedis;
let settings: ReturnType<typeof testSettings>;
let ctx: QueueContext;
let worker: QueueWorker;
let job: TestJob;

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('mlp', N, 31);
  redis = await OwnRedis.start(data.dir, ['--appendonly', 'yes', '--appendfsync', 'always']);
  settings = testSettings(redis.url);
  ctx = await QueueContext.open(settings);
  worker = await startQueueWorker(settings, { workers: 1, debugShardDelayMs: 250 });
});

afterAll(async () => {
  await worker?.close(true);
  await ctx?.close();
  await redis?.stop();
  if (job) disposeJob(job);
  tmp.remove();
  data.remove();
});

it('Redis killed and restarted mid-job (AOF): the job completes and nothing is lost', async () => {
  const file = await writeJob(tmp.dir, job, { extensions: EXTENSIONS, options: { shardSize: 6 } });
  const s = await submitJob(ctx, await readJobFile(file));
  expect(s.shards).toBe(6);
  const done = async () => Number(await ctx.redis.hget(ctx.keys.meta(s.jobId), 'shardsDone'));
  await until('two shards done', async () => (await done()) >= 2);
  const doneAtKill = await done();
  await redis.kill();
  expect(doneAtKill, 'Redis went down mid-job').toBeLessThan(6);
  await sleep(300);
  await redis.launch();
  await waitForJob(ctx, s.jobId, { timeoutMs: 40_000 });
  expect(await jobStatus(ctx, s.jobId)).toMatchObject({ state: 'completed', shardsDone: 6, samplesDone: N });
  const out = `${tmp.dir}/after-restart`;
  await fetchResult(ctx, s.jobId, out);
  const expected = runBatch(job.net, job.tensors.inputs, job.tensors.targets, { extensions: EXTENSIONS, shardSize: 6 });
  expect(sameBits(await readResults(out), expected)).toEqual([]);
});

it('an upload Redis refuses midway (maxmemory) is removed again: never half-written', async () => {
  await ctx.redis.config('SET', 'maxmemory', String(8 * 2 ** 20));
  await ctx.redis.config('SET', 'maxmemory-policy', 'noeviction');
  try {
    const M = 200_000; // 3.2 MB of inputs, 1.6 MB of targets, in 256 KiB chunks
    const inputs: HostTensor = { dtype: 'float32', shape: [M, 4], data: new Float32Array(M * 4) };
    const targets: HostTensor = { dtype: 'float32', shape: [M, 2], data: new Float32Array(M * 2) };
    const file = await writeJob(tmp.dir, job, { extensions: ['Variance'] }, { inputs, targets });
    const before = await ctx.queue.getJobCounts();
    const keysBefore = (await countKeys(settings)).sort();
    const uploaded: string[] = [];
    const fill = async (name: string) => {
      uploaded.push(name);
      // Leave the next tensor no room: Redis answers OOM to its chunks.
      if (name === 'inputs') await ctx.redis.config('SET', 'maxmemory', String(Number((await ctx.redis.info('memory')).match(/used_memory:(\d+)/)![1]) + 2 ** 20));
    };
    const e = await submitJob(ctx, await readJobFile(file), { chunkBytes: 256 * 1024, afterUpload: fill }).catch((x: unknown) => x as Error);
    expect(uploaded).toEqual(['weights', 'inputs']);
    expect(e).toBeInstanceOf(PayloadTooLargeError);
    expect((e as Error).message).toMatch(/Redis refused the upload .*OOM.*nothing of the job was kept/);
    expect((await countKeys(settings)).sort()).toEqual(keysBefore);
    expect(await ctx.queue.getJobCounts()).toEqual(before);
  } finally {
    await ctx.redis.config('SET', 'maxmemory', '0');
  }
});
