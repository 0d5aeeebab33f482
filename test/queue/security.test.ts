/**
 * What a record written straight into Redis (bypassing submit) can make a worker do — against a
 * real Redis and a real worker with --data-root D and --output-root O: it cannot read outside D
 * (absolute paths elsewhere, `..`, symlinked files or directories), cannot write outside O or
 * through a planted symlink, cannot point a job at another job's keys, cannot touch other jobs'
 * keys with a glob id like "*", and cannot get bytes of a file quoted back in a failure reason.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { PathPolicyError } from '../../src/errors/queue-errors.ts';
import { writeNpyFile } from '../../src/io/tensor-file.ts';
import { deleteKeysWithPrefix, QueueContext } from '../../queue/context.ts';
import type { JobDescriptor } from '../../queue/descriptor.ts';
import { deleteJobData } from '../../queue/job-data.ts';
import { readJobFile } from '../../queue/job-schema.ts';
import { writeSummaryFile } from '../../queue/safe-write.ts';
import { waitForJob } from '../../queue/status.ts';
import { submitJob } from '../../queue/submit.ts';
import { startQueueWorker, type QueueWorker } from '../../queue/worker.ts';
import { runCli } from '../helpers/cli.ts';
import { makeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { addFlow, addRecord, expectTypedReason, plant, settled, template, type Template } from './craft.ts';
import { closeQueueTest, countKeys, purge, tempDir, testSettings, writeJob } from './helpers.ts';

const settings = testSettings();
const tmp = tempDir('security');
const root = realpathSync(tmp.dir);
const D = path.join(root, 'data');
const O = path.join(root, 'out');
const X = path.join(root, 'elsewhere');
const SECRET = 'SECRET-PASSWORD=hunter2 do not leak me';
let ctx: QueueContext;
let worker: QueueWorker;
let job: TestJob;
let tpl: Template;

beforeAll(async () => {
  await useBackend('wasm');
  for (const d of [D, O, X]) mkdirSync(d);
  job = makeJob('mlp', 12);
  tpl = template(job, { shardSize: 12 });
  await writeJob(D, job);
  await writeNpyFile(path.join(X, 'secret.npy'), job.tensors.inputs);
  writeFileSync(path.join(D, 'leak.safetensors'), SECRET);
  writeFileSync(path.join(D, 'leak.npy'), SECRET);
  symlinkSync(path.join(X, 'secret.npy'), path.join(D, 'link.npy'));
  symlinkSync(X, path.join(D, 'linkdir'));
  symlinkSync(X, path.join(O, 'linkdir'));
  ctx = await QueueContext.open(settings);
  worker = await startQueueWorker(settings, { workers: 1, dataRoots: [D], outputRoot: O, lockDurationMs: 10_000, stalledIntervalMs: 10_000 });
});

afterAll(() => closeQueueTest({ worker, ctx, settings, tmp, job }));

/** A "paths" descriptor: the template's tensors as files in D, with `inputs` (or another) replaced. */
const pathsDesc = (over: Partial<Record<'weights' | 'inputs' | 'targets', string>>) => (d: JobDescriptor) => ({
  ...d,
  tensors: {
    weights: { kind: 'path', path: over.weights ?? path.join(D, 'weights.safetensors') },
    inputs: { kind: 'path', path: over.inputs ?? path.join(D, 'inputs.npy') },
    targets: { kind: 'path', path: over.targets ?? path.join(D, 'targets.npy') },
  },
});

/** Plants a job and adds the record of its only shard; resolves with how that record ended. */
async function runCrafted(desc: (d: JobDescriptor) => unknown) {
  const { id } = await plant(ctx, tpl, { desc, tensors: null });
  const shardId = `${id}-b0-s0`;
  await addRecord(ctx, 'shard', { kind: 'shard', jobId: id, batch: 0, shard: 0, offset: 0, count: 12 }, shardId);
  return { id, ...(await settled(ctx, shardId)) };
}

describe('reading: only files under --data-root, through no symlink', () => {
  const cases: [string, () => string, RegExp][] = [
    ['a file outside every data root', () => path.join(X, 'secret.npy'), /PathPolicyError: .*lies outside this worker's --data-root/],
    ['a path that climbs out with ..', () => `${D}/../elsewhere/secret.npy`, /QueueRecordError: .*must be an absolute path without \. or \.\. segments/],
    ['a relative path', () => 'secret.npy', /QueueRecordError: .*must be an absolute path/],
    ['a symlink inside the root to a file outside', () => path.join(D, 'link.npy'), /PathPolicyError: .*link\.npy is a symlink; a worker never follows one/],
    ['a symlinked directory inside the root', () => path.join(D, 'linkdir', 'secret.npy'), /PathPolicyError: .*linkdir is a symlink; a worker never follows one/],
  ];
  it.each(cases)('%s is refused, typed, and the job fails without a result', async (_label, p, reason) => {
    const r = await runCrafted(pathsDesc({ inputs: p() }));
    expect(r.state).toBe('failed');
    expectTypedReason(r.reason, reason);
    expect(await ctx.redis.exists(ctx.keys.summary(r.id), ctx.keys.result(r.id, 0))).toBe(0);
  });

  it('failure reasons name the file and the problem, never its bytes', async () => {
    const headerLength = Buffer.from(SECRET).readBigUInt64LE(0).toString();
    for (const [over, kind] of [
      [{ weights: path.join(D, 'leak.safetensors') }, /TensorFileError: .*leak\.safetensors: not a valid \.safetensors file \(its header length does not fit the file\)$/],
      [{ inputs: path.join(D, 'leak.npy') }, /TensorFileError: .*leak\.npy: not a valid \.npy file \(not a \.npy file\)$/],
    ] as const) {
      const r = await runCrafted(pathsDesc(over));
      expectTypedReason(r.reason, kind);
      const stop = await ctx.redis.get(ctx.keys.stop(r.id));
      for (const text of [r.reason, stop ?? '']) {
        expect(text).not.toContain('hunter2');
        expect(text).not.toContain('SECRET');
        expect(text).not.toContain(headerLength);
      }
      // BullMQ keeps no stack trace of the worker's code in the record either.
      expect((await ctx.queue.getJob(`${r.id}-b0-s0`))?.stacktrace ?? []).toEqual([]);
    }
  });

  it('a worker started without --data-root reads no paths at all (uploaded tensors still work)', async () => {
    const own = testSettings();
    const bare = await startQueueWorker(own, { workers: 1 });
    const c = await QueueContext.open(own);
    try {
      const file = await writeJob(D, job, { tensors: 'paths', extensions: ['BatchGrad'] });
      const s = await submitJob(c, await readJobFile(file));
      const err = await waitForJob(c, s.jobId, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PathPolicyError);
      expect((err as Error).message).toMatch(/this worker reads no paths \(start it with --data-root DIR/);
      const up = await submitJob(c, await readJobFile(await writeJob(D, job, { extensions: ['BatchGrad'] })));
      await expect(waitForJob(c, up.jobId, { timeoutMs: 20_000 })).resolves.toMatchObject({ N: 12 });
    } finally {
      await bare.close(true);
      await c.close();
      await purge(own);
    }
  });
});

describe('writing: only under --output-root, never through or over what is there', () => {
  const cases: [string, () => string, RegExp][] = [
    ['a directory outside the output root', () => path.join(X, 'out1'), /PathPolicyError: .*lies outside this worker's --output-root/],
    ['a directory that climbs out with ..', () => `${O}/../elsewhere/out2`, /QueueRecordError: .*output\.dir: must be an absolute path without/],
    ['a symlinked directory under the output root', () => path.join(O, 'linkdir', 'out3'), /PathPolicyError: .*linkdir is a symlink; a worker never writes through one/],
  ];
  it.each(cases)('%s is refused; nothing is written there', async (_label, dir, reason) => {
    const { id, desc } = await plant(ctx, tpl, { desc: (d) => ({ ...d, output: { dir: dir(), redis: false } }) });
    await addFlow(ctx, { ...desc, output: { dir: dir(), redis: false } });
    const r = await settled(ctx, id);
    expect(r.state).toBe('failed');
    const stop = await ctx.redis.get(ctx.keys.stop(id));
    expectTypedReason(stop === null ? r.reason : (JSON.parse(stop) as { reason: string }).reason, reason);
    expect(existsSync(path.join(X, 'out1')) || existsSync(path.join(X, 'out2')) || existsSync(path.join(X, 'out3'))).toBe(false);
  });

  it('a symlink planted as summary.json is not followed; a planted results file is not overwritten', async () => {
    const victim = path.join(X, 'victim.txt');
    writeFileSync(victim, 'precious');
    for (const [name, plantIt] of [
      ['summary.json', (dir: string) => symlinkSync(victim, path.join(dir, 'summary.json'))],
      ['results.safetensors', (dir: string) => writeFileSync(path.join(dir, 'results.safetensors'), 'someone else')],
    ] as const) {
      const dir = path.join(O, `planted-${name}`);
      mkdirSync(dir);
      plantIt(dir);
      const s = await submitJob(ctx, await readJobFile(await writeJob(D, job, { extensions: ['BatchGrad'], output: { dir } })));
      const err = await waitForJob(ctx, s.jobId, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PathPolicyError);
      expect((err as Error).message).toContain(`${path.join(dir, name)} already exists (or is a symlink); a worker never overwrites or follows one`);
    }
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(readFileSync(path.join(O, 'planted-results.safetensors', 'results.safetensors'), 'utf8')).toBe('someone else');
  });

  it("exclusive create keeps a job's own file from an earlier attempt, and refuses anyone else's", async () => {
    const dir = path.join(O, 'own');
    mkdirSync(dir);
    await expect(writeSummaryFile(dir, 'jaaaaaaaaa1', { jobId: 'jaaaaaaaaa1' }, 'test')).resolves.toBe('written');
    await expect(writeSummaryFile(dir, 'jaaaaaaaaa1', { jobId: 'jaaaaaaaaa1' }, 'test')).resolves.toBe('kept');
    await expect(writeSummaryFile(dir, 'jbbbbbbbbb2', { jobId: 'jbbbbbbbbb2' }, 'test')).rejects.toThrow(PathPolicyError);
  });
});

describe("other jobs' keys", () => {
  it("a descriptor cannot point a job at another job's uploaded tensors (or any other key)", async () => {
    const victim = await plant(ctx, tpl);
    for (const key of [ctx.keys.tensor(victim.id, 'inputs'), '*', `${ctx.keys.ns}:*`]) {
      const r = await runCrafted((d) => ({ ...d, tensors: { ...d.tensors, inputs: { kind: 'redis', key } } }));
      expectTypedReason(r.reason, /QueueRecordError: .*tensors\.inputs points at a key that is not this job's inputs/);
    }
    expect((await countKeys(settings, `${ctx.keys.job(victim.id)}:*`)).length).toBeGreaterThan(4);
  });

  it('glob ids ("*" and friends) are refused everywhere; a crafted record never deletes or stops another job', async () => {
    const victim = await plant(ctx, tpl);
    const before = (await countKeys(settings, `${ctx.keys.job(victim.id)}:*`)).sort();
    const crafted: [string, unknown, string][] = [
      ['reduce', { kind: 'reduce', jobId: '*', batch: 0, root: true }, '*'],
      ['collect', { kind: 'collect', jobId: '*' }, 'x*'],
      ['shard', { kind: 'shard', jobId: 'j*', batch: 0, shard: 0, offset: 0, count: 12 }, 'j*-b0-s0'],
      ['reduce', { kind: 'reduce', jobId: `${victim.id.slice(0, 6)}?????????`, batch: 0, root: true }, 'q1'],
      ['shard', { kind: 'shard', jobId: `${victim.id}:desc`, batch: 0, shard: 0, offset: 0, count: 12 }, 'q2'],
      // Valid id of a real job, but a shard that is not in its plan: refused alone, the job is not stopped.
      ['shard', { kind: 'shard', jobId: victim.id, batch: 0, shard: 7, offset: 0, count: 12 }, `${victim.id}-b0-s7`],
      ['shard', { kind: 'shard', jobId: victim.id, batch: 0, shard: 0, offset: 0, count: 12 }, 'not-its-id'],
    ];
    for (const [name, data, id] of crafted) {
      await addRecord(ctx, name, data, id);
      const r = await settled(ctx, id);
      expect(r.state).toBe('failed');
      expectTypedReason(r.reason, /QueueRecordError/);
    }
    expect((await countKeys(settings, `${ctx.keys.job(victim.id)}:*`)).sort()).toEqual(before);
    expect(await ctx.redis.exists(ctx.keys.stop(victim.id))).toBe(0);
    expect(await ctx.redis.hget(ctx.keys.meta(victim.id), 'phase')).toBeNull();
    // The victim still runs to the end once its own flow exists.
    await addFlow(ctx, victim.desc);
    await expect(waitForJob(ctx, victim.id, { timeoutMs: 20_000 })).resolves.toMatchObject({ N: 12 });
  });

  it("data is deleted by the keys recorded for the job, never another job's key slipped into its record", async () => {
    const a = await plant(ctx, tpl);
    const b = await plant(ctx, tpl);
    const bKeys = (await countKeys(settings, `${ctx.keys.job(b.id)}:*`)).sort();
    await ctx.redis.sadd(ctx.keys.blobs(a.id), ctx.keys.tensor(b.id, 'inputs'), ctx.keys.desc(a.id), `${ctx.keys.job(a.id)}:t:`);
    expect(await deleteJobData(ctx, a.id, ['t', 'p', 'r'])).toBeGreaterThan(0);
    expect(await countKeys(settings, `${ctx.keys.job(a.id)}:t:*`)).toEqual([]);
    expect(await ctx.redis.exists(ctx.keys.desc(a.id))).toBe(1);
    expect((await countKeys(settings, `${ctx.keys.job(b.id)}:*`)).sort()).toEqual(bKeys);
  });

  it('a whole-namespace cleanup matches its prefix literally: glob characters in it widen nothing', async () => {
    const ns = `${settings.prefix}:glob`;
    await ctx.redis.set(`${ns}*x:1`, 'doomed');
    await ctx.redis.set(`${ns}Zx:1`, 'kept');
    await ctx.redis.set(`${ns}[a]x:1`, 'kept');
    expect(await deleteKeysWithPrefix(ctx.redis, `${ns}*x:`)).toBe(1);
    expect((await countKeys(settings, `${ns}*`)).sort()).toEqual([`${ns}Zx:1`, `${ns}[a]x:1`]);
  });

  it('the status, result and cancel commands refuse ids outside the alphabet before touching Redis', async () => {
    const conn = ['--redis', 'redis://127.0.0.1:1'];
    for (const args of [['status', '*'], ['result', 'j*', '--out', tmp.dir], ['cancel', '*'], ['cancel', 'jabc:desc'], ['status', 'J0123456789']]) {
      const r = await runCli([...args, ...conn]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error \[E_USAGE\] JobIdError: (status|result|cancel): ".*" is not a job id \('j' then 8 to 40 lowercase letters or digits\)/);
    }
  });
});
