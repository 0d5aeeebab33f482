/**
 * A spectrum over the queue: every product pass enqueues one 'products' record per shard, computed
 * by two `backpack-ts worker` processes; the session adds the shards' sums in shard order. With the
 * same seed and shard plan the result — eigenvalues and eigenvectors, traces, density, loss, of the
 * GGN and the Hessian — is bitwise the local pool's. Both workers take part, and the session leaves
 * nothing behind in Redis. A worker killed mid-shard changes nothing (its shard is redelivered). A
 * malformed products record is refused alone. The CLI's `--queue` writes
 * the local command's files bit for bit.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { createInProcessPool } from '../../src/coordinator/in-process-pool.ts';
import { curvatureOperator } from '../../src/spectrum/curvature-operator.ts';
import { tensorData } from '../../src/spectrum/data.ts';
import { QueueContext } from '../../queue/context.ts';
import { QueueProductsSession } from '../../queue/spectrum-session.ts';
import { disposeJob, makeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { spectrumNumbers } from '../helpers/spectrum-numbers.ts';
import { writeNpyFile, writeSafetensorsFile } from '../../src/io/tensor-file.ts';
import { runCli } from '../helpers/cli.ts';
import { countKeys, purge, spawnWorker, tempDir, testSettings, type WorkerProcess } from './helpers.ts';

const N = 23;
const SHARD = 4;
const settings = testSettings();
const workers: WorkerProcess[] = [];
let ctx: QueueContext;
let job: TestJob;

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('mlp', N);
  ctx = await QueueContext.open(settings);
  for (const name of ['w1', 'w2']) workers.push(spawnWorker(settings, ['--workers', '1', '--name', name, '--stalled-interval', '1000']));
  await Promise.all(workers.map((w) => w.waitFor(/on queue/)));
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await ctx?.close();
  await purge(settings);
  if (job) disposeJob(job);
});

it('is bitwise the local spectrum with two worker processes, and cleans up', async () => {
  const pool = createInProcessPool();
  const local = await spectrumNumbers(async (curvature) =>
    curvatureOperator(pool, job.net, job.tensors.weights, tensorData(job.tensors.inputs, job.tensors.targets, 3 * SHARD), { curvature, shardSize: SHARD, backend: 'wasm', vectorsPerPass: 3 }), 5);
  const sessions: QueueProductsSession[] = [];
  const queued = await spectrumNumbers(async (curvature) => {
    const s = await QueueProductsSession.open(ctx, job.net, job.tensors.weights, job.tensors.inputs, job.tensors.targets, { curvature, shardSize: SHARD, backend: 'wasm', vectorsPerPass: 3 });
    sessions.push(s);
    return s;
  }, 5, async (op) => (op as QueueProductsSession).close());
  expect(queued.length).toBe(local.length);
  expect(queued.findIndex((v, i) => !Object.is(v, local[i])), 'first differing number').toBe(-1);
  expect(sessions.every((s) => s.passes > 10)).toBe(true);
  // Both workers computed shards.
  for (const w of workers) expect(w.stderr()).toMatch(/pass \d+ shard \d+: done/);
  // Nothing of the sessions is left (BullMQ's own bookkeeping of the queue aside).
  const left = (await countKeys(settings)).filter((k) => k.includes(':bp:') && !k.endsWith(':bp:jobs'));
  expect(left).toEqual([]);
}, 240_000);

it('a worker killed in the middle of a products shard: the shard is redelivered, the products still bitwise the local ones', async () => {
  const doomed = spawnWorker(settings, ['--workers', '1', '--name', 'doomed', '--lock-duration', '1500', '--stalled-interval', '1000', '--debug-shard-delay', '600000']);
  workers.push(doomed);
  await doomed.waitFor(/on queue/);
  const pool = createInProcessPool();
  const data = tensorData(job.tensors.inputs, job.tensors.targets, 3 * SHARD);
  const op = curvatureOperator(pool, job.net, job.tensors.weights, data, { curvature: 'hessian', shardSize: SHARD, backend: 'wasm' });
  const x = Array.from({ length: 2 }, (_, k) => Float64Array.from({ length: op.dim }, (_, i) => Math.sin(i + k)));
  const local = await op.apply(x);
  const s = await QueueProductsSession.open(ctx, job.net, job.tensors.weights, job.tensors.inputs, job.tensors.targets, { curvature: 'hessian', shardSize: SHARD, backend: 'wasm' });
  try {
    const pass = s.apply(x);
    await doomed.waitFor(/pass 0 shard \d+: started/, 60_000);
    doomed.proc.kill('SIGKILL');
    const queued = await pass;
    queued.forEach((y, k) => expect(y.findIndex((v, i) => !Object.is(v, local[k][i])), `vector ${k}`).toBe(-1));
  } finally {
    await s.close();
  }
}, 120_000);

it('a products record outside the session plan is refused alone', async () => {
  const s = await QueueProductsSession.open(ctx, job.net, job.tensors.weights, job.tensors.inputs, job.tensors.targets, { curvature: 'ggn', shardSize: SHARD, backend: 'wasm' });
  try {
    const bad = await ctx.queue.add('products', { kind: 'products', jobId: s.jobId, pass: 999, shard: 1, offset: 5, count: SHARD }, { jobId: `${s.jobId}-p999-s1` });
    await expect.poll(async () => bad.getState(), { timeout: 20_000 }).toBe('failed');
    const failed = await ctx.queue.getJob(bad.id!);
    expect(failed!.failedReason).toMatch(/samples 5\+4, the plan has 4\+4/);
    // The session itself still works.
    const [y] = await s.apply([new Float64Array(s.dim).fill(0.1)]);
    expect(y.some((v) => v !== 0)).toBe(true);
  } finally {
    await s.close();
  }
}, 60_000);

it('`backpack-ts spectrum --queue` writes the spectrum.json and eigenvectors of the local command, bit for bit', async () => {
  const tmp = tempDir('spectrum-cli');
  try {
    const t = job.tensors;
    writeFileSync(path.join(tmp.dir, 'model.json'), JSON.stringify(t.spec));
    await writeSafetensorsFile(path.join(tmp.dir, 'w.safetensors'), t.weights);
    await writeNpyFile(path.join(tmp.dir, 'x.npy'), t.inputs);
    await writeNpyFile(path.join(tmp.dir, 'y.npy'), t.targets);
    const at = (f: string) => path.join(tmp.dir, f);
    const common = ['spectrum', '--model', at('model.json'), '--weights', at('w.safetensors'), '--inputs', at('x.npy'), '--targets', at('y.npy'),
      '--backend', 'wasm', '--curvature', 'hessian', '--top-k', '2', '--bottom-k', '1', '--eigenvectors', '--max-iterations', '10',
      '--trace', 'hutchpp', '--trace-products', '12', '--density', '--probes', '2', '--steps', '4', '--shard-size', '5', '--batch-size', '7', '--seed', '9', '--quiet'];
    const local = await runCli([...common, '--workers', '1', '--out', at('local')]);
    expect(local.code, local.stderr).toBe(0);
    const queued = await runCli([...common, '--queue', '--redis', settings.url, '--prefix', settings.prefix, '--queue-name', settings.queue, '--out', at('queued')]);
    expect(queued.code, queued.stderr).toBe(0);
    const numbers = (dir: string) => {
      const j = JSON.parse(readFileSync(path.join(dir, 'spectrum.json'), 'utf8'));
      return { ...j, workers: null, timings: null, backendLibrary: null };
    };
    expect(numbers(at('queued'))).toEqual(numbers(at('local')));
    expect(numbers(at('local')).batchSize).toBe(10); // rounded up to whole shards
    for (const f of ['eigenvectors-top.safetensors', 'eigenvectors-bottom.safetensors']) expect(readFileSync(path.join(at('queued'), f))).toEqual(readFileSync(path.join(at('local'), f)));
  } finally {
    tmp.remove();
  }
}, 240_000);

it('queue options without --queue are a usage error', async () => {
  const r = await runCli(['spectrum', '--model', 'm.json', '--weights', 'w.safetensors', '--out', '/tmp/x', '--redis', settings.url]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/UsageError: --redis, --redis-password-file, --queue-name and --prefix need --queue/);
});
