/**
 * `backpack-ts worker` processes against a real Redis: a worker killed (SIGKILL) in the middle of a
 * shard loses its lock, another worker's stalled-job check puts the shard back, and the job's result
 * is bitwise the fault-free one (each shard counted once); two workers on one queue share the shards.
 * Each worker has one local thread, so results are bitwise runBatch with the queue's shard size.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runBatch, type RunResult } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { QueueContext } from '../../queue/context.ts';
import { readJobFile } from '../../queue/job-schema.ts';
import { fetchResult } from '../../queue/result.ts';
import { jobStatus, waitForJob } from '../../queue/status.ts';
import { submitJob } from '../../queue/submit.ts';
import { disposeJob, expectResultsClose, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { purge, readResults, sameBits, spawnWorker, tempDir, testSettings, writeJob, type WorkerProcess } from './helpers.ts';

const N = 40;
const EXTENSIONS: ExtensionName[] = ['BatchGrad', 'Variance', 'DiagGGNMC'];
const settings = testSettings();
const tmp = tempDir('procs');
const workers: WorkerProcess[] = [];
let ctx: QueueContext;
let job: TestJob;

const reference = (shardSize?: number): RunResult =>
  runBatch(job.net, job.tensors.inputs, job.tensors.targets, { extensions: EXTENSIONS, seed: 3, shardSize });

async function submit(shardSize: number) {
  const file = await writeJob(tmp.dir, job, { extensions: EXTENSIONS, options: { shardSize, seed: 3 } });
  return submitJob(ctx, await readJobFile(file));
}

function start(args: string[]): WorkerProcess {
  const w = spawnWorker(settings, ['--workers', '1', ...args]);
  workers.push(w);
  return w;
}

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('cnn', N, 23);
  ctx = await QueueContext.open(settings);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await ctx?.close();
  await purge(settings);
  tmp.remove();
  if (job) disposeJob(job);
});

it('a worker killed mid-shard: the shard is redelivered and the result equals the unsharded one', async () => {
  const s = await submit(10);
  const doomed = start(['--name', 'doomed', '--lock-duration', '1500', '--stalled-interval', '1000', '--debug-shard-delay', '600000']);
  await doomed.waitFor(/shard (\d+): started/);
  const shard = Number(/shard (\d+): started/.exec(doomed.stderr())![1]);
  doomed.proc.kill('SIGKILL');
  const rescuer = start(['--name', 'rescuer', '--stalled-interval', '1000']);
  await waitForJob(ctx, s.jobId, { timeoutMs: 40_000 });

  const out = `${tmp.dir}/killed`;
  await fetchResult(ctx, s.jobId, out);
  const got = await readResults(out);
  expect(sameBits(got, reference(10))).toEqual([]);
  expectResultsClose(got, reference(), 1e-5, 'after a kill vs unsharded');
  const redelivered = await ctx.queue.getJob(`${s.jobId}-b0-s${shard}`);
  expect(redelivered?.processedBy).toBe('rescuer');
  expect(redelivered?.attemptsStarted).toBeGreaterThanOrEqual(2);
  expect(await jobStatus(ctx, s.jobId)).toMatchObject({ state: 'completed', shardsDone: 4, samplesDone: N });
  await rescuer.stop();
  expect(rescuer.proc.exitCode, rescuer.stderr()).toBe(0);
});

it('two worker processes on one queue share the shards; same result', async () => {
  const [a, b] = [start(['--name', 'w-a', '--debug-shard-delay', '200']), start(['--name', 'w-b', '--debug-shard-delay', '200'])];
  await Promise.all([a.waitFor(/worker w-a on queue/), b.waitFor(/worker w-b on queue/)]);
  const s = await submit(5);
  await waitForJob(ctx, s.jobId, { timeoutMs: 40_000 });
  const out = `${tmp.dir}/shared`;
  await fetchResult(ctx, s.jobId, out);
  expect(sameBits(await readResults(out), reference(5))).toEqual([]);
  const by = new Map<string, number>();
  for (let i = 0; i < 8; i++) {
    const name = (await ctx.queue.getJob(`${s.jobId}-b0-s${i}`))?.processedBy ?? '?';
    by.set(name, (by.get(name) ?? 0) + 1);
  }
  expect([...by.keys()].sort(), JSON.stringify(Object.fromEntries(by))).toEqual(['w-a', 'w-b']);
  expect([...by.values()].reduce((x, y) => x + y)).toBe(8);
});
