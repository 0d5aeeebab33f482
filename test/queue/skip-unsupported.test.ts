/**
 * --skip-unsupported on the queue, against a real Redis and a queue worker in this process (one
 * local thread: a queue shard is one micro-shard, so results are bitwise runBatch's with the same
 * shard size). Oracle: the library's runBatch with skipUnsupported — the same results for the
 * layers that support a quantity, the same skipped pairs in summary.json. Without the option the
 * job is refused at submit, typed, before anything is written. A record written straight into
 * Redis whose skipped list is not exactly the pairs the module records refuse is rejected by the
 * worker with a typed QueueRecordError (a supported pair listed would silently drop a result). A
 * queue sweep with the option equals the local sweep with it (itself checked against runBatch in
 * test/sweep/skip-unsupported.test.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { sliceRows } from '../../src/core/inputs.ts';
import { UnsupportedModuleError } from '../../src/errors/index.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { QueueContext } from '../../queue/context.ts';
import type { JobDescriptor } from '../../queue/descriptor.ts';
import { readJobFile } from '../../queue/job-schema.ts';
import { fetchResult } from '../../queue/result.ts';
import { waitForJob } from '../../queue/status.ts';
import { submitJob } from '../../queue/submit.ts';
import { startQueueWorker, type QueueWorker } from '../../queue/worker.ts';
import { readTensorMap } from '../../src/io/tensor-file.ts';
import { runSweep } from '../../src/sweep/run-sweep.ts';
import { unitDir } from '../../src/sweep/output.ts';
import { readSweepSpec } from '../../src/sweep/spec.ts';
import { queueUnitRunner } from '../../queue/sweep-unit.ts';
import { runCli } from '../helpers/cli.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { values } from '../helpers/oracle.ts';
import { batchNormSweep } from '../sweep/helpers.ts';
import { makeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { addRecord, expectTypedReason, plant, settled, template, type Template } from './craft.ts';
import { closeQueueTest, countKeys, purge, readResults, sameBits, tempDir, testSettings, writeJob } from './helpers.ts';

const N = 8;
const EXTENSIONS: ExtensionName[] = ['KFAC', 'BatchGrad', 'DiagGGNExact'];
const settings = testSettings();
const tmp = tempDir('skip');
let ctx: QueueContext;
let worker: QueueWorker;
let job: TestJob;
let tpl: Template;

const bn = (quantity: string) => ({ layer: '1', module: 'BatchNorm1d', quantity, reason: expect.stringMatching(/no Kronecker factorisation is defined for BatchNorm/) });
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('bncnn', N);
  tpl = template(job, { shardSize: N, extensions: EXTENSIONS });
  ctx = await QueueContext.open(settings);
  worker = await startQueueWorker(settings, { workers: 1, lockDurationMs: 10_000, stalledIntervalMs: 10_000, dataRoots: [tmp.dir], outputRoot: tmp.dir });
});

afterAll(() => closeQueueTest({ worker, ctx, settings, tmp, job }));

describe('submit with skipUnsupported', () => {
  it('without it: UnsupportedModuleError at submit, nothing written', async () => {
    const before = await countKeys(settings);
    const file = await writeJob(tmp.dir, job, { extensions: EXTENSIONS, options: { shardSize: 4 } });
    const err = await submitJob(ctx, await readJobFile(file)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedModuleError);
    expect((err as Error).message).toMatch(/^KFAC is not supported for BatchNorm1d \(layer '1'\): no Kronecker factorisation/);
    expect((await countKeys(settings)).sort()).toEqual(before.sort());
  });

  it('with it: bitwise the local run with --skip-unsupported (same shards), the same skipped pairs in summary.json', async () => {
    const file = await writeJob(tmp.dir, job, { extensions: EXTENSIONS, options: { shardSize: 4, skipUnsupported: true } });
    const s = await submitJob(ctx, await readJobFile(file));
    expect(s.shards).toBe(2);
    await waitForJob(ctx, s.jobId);
    const out = path.join(tmp.dir, 'out-one');
    await fetchResult(ctx, s.jobId, out);
    const { inputs, targets } = job.tensors;
    const local = runBatch(job.net, inputs, targets, { extensions: EXTENSIONS, shardSize: 4, skipUnsupported: true });
    const got = await readResults(out);
    expect(sameBits(got, local)).toEqual([]);
    expect([...got.results.keys()].filter((k) => k.startsWith('1.') && k.includes('kfac'))).toEqual([]);
    expect([...got.results.keys()]).toContain('0.weight.kfac.0');
    const summary = readJson(path.join(out, 'summary.json'));
    expect(summary.skipped).toEqual([bn('KFAC')]);
    expect(summary.skipped).toEqual(JSON.parse(JSON.stringify(local.skipped)));
  });

  it('a dataset of batches: every batch is its local run, the root summary and each batch list the pairs', async () => {
    const file = await writeJob(tmp.dir, job, { extensions: EXTENSIONS, options: { batchSize: 5, skipUnsupported: true } });
    const s = await submitJob(ctx, await readJobFile(file));
    await waitForJob(ctx, s.jobId);
    const out = path.join(tmp.dir, 'out-batches');
    await fetchResult(ctx, s.jobId, out);
    expect(readJson(path.join(out, 'summary.json')).skipped).toEqual([bn('KFAC')]);
    for (const [k, start, count] of [[0, 0, 5], [1, 5, 3]]) {
      const dir = path.join(out, `batch-0000${k}`);
      const { inputs, targets } = job.tensors;
      const local = runBatch(job.net, sliceRows(inputs, start, count), sliceRows(targets, start, count), { extensions: EXTENSIONS, skipUnsupported: true });
      expect(sameBits(await readResults(dir), local), `batch ${k}`).toEqual([]);
      expect(readJson(path.join(dir, 'summary.json')).skipped).toEqual([bn('KFAC')]);
    }
  });

  it('the CLI: `submit --skip-unsupported --wait --out` warns on stderr and writes the skipped pairs', async () => {
    const file = await writeJob(tmp.dir, job, { extensions: ['KFAC'] });
    const out = path.join(tmp.dir, 'out-cli');
    const conn = ['--redis', settings.url, '--prefix', settings.prefix, '--queue', settings.queue];
    const refused = await runCli(['submit', file, ...conn, '--quiet']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/UnsupportedModuleError: KFAC is not supported for BatchNorm1d \(layer '1'\)/);
    const r = await runCli(['submit', file, ...conn, '--skip-unsupported', '--wait', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: .*skipped KFAC for layer '1' \(BatchNorm1d\): no Kronecker factorisation is defined for BatchNorm/);
    expect(readJson(path.join(out, 'summary.json')).skipped).toEqual([bn('KFAC')]);
    const local = runBatch(job.net, job.tensors.inputs, job.tensors.targets, { extensions: ['KFAC'], skipUnsupported: true });
    expect(sameBits(await readResults(out), local)).toEqual([]);
  }, 60_000);
});

describe('a sweep on the queue with skipUnsupported', () => {
  it('equals the local sweep with it: the same tensors per batch and per pass, the same pairs in summary.json and unit.json', async () => {
    const dir = path.join(tmp.dir, 'sweep');
    const file = await batchNormSweep(dir, { quantities: ['KFAC', 'BatchL2Grad'], options: { mode: 'both', shardSize: 2, skipUnsupported: true } });
    const spec = await readSweepSpec(file);
    const [localOut, queueOut] = [path.join(dir, 'local'), path.join(dir, 'queue')];
    await runSweep(spec, { out: localOut, workers: 0 });
    const s = await runSweep(spec, { out: queueOut, runner: queueUnitRunner(ctx, spec, queueOut) });
    expect(s.computed).toBe(1);
    const listed = (out: string) => [readJson(path.join(out, 'summary.json')).skipped, readJson(path.join(unitDir(out, s.rows[0].unit), 'unit.json')).skipped];
    expect(listed(queueOut)).toEqual([[bn('KFAC')], [bn('KFAC')]]);
    expect(listed(queueOut)).toEqual(listed(localOut));
    const tensors = (out: string) => readTensorMap(path.join(unitDir(out, s.rows[0].unit), 'results.safetensors'));
    const [want, got] = [await tensors(localOut), await tensors(queueOut)];
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    expect([...got.keys()].filter((k) => k.includes('1.weight.kfac'))).toEqual([]);
    for (const [k, t] of want) expectClose(values(got.get(k)!), values(t), { rtol: 1e-5, atol: 1e-7 * maxAbs(values(t)), label: k });
  }, 60_000);
});

describe('a crafted skipped list is rejected by the worker', () => {
  /** Plants a job with the template's descriptor changed by `desc` and runs its only shard. */
  async function runCrafted(desc: (d: JobDescriptor) => unknown) {
    const { id } = await plant(ctx, tpl, { desc });
    const shardId = `${id}-b0-s0`;
    await addRecord(ctx, 'shard', { kind: 'shard', jobId: id, batch: 0, shard: 0, offset: 0, count: N }, shardId);
    return { id, ...(await settled(ctx, shardId)) };
  }
  const KFAC_BN = { layer: '1', quantity: 'KFAC' };
  const cases: [string, unknown, RegExp][] = [
    ['a layer the model does not have', [KFAC_BN, { layer: '7', quantity: 'KFAC' }], /QueueRecordError: .*skipped names layer "7", which is not a layer with parameters of the model/],
    ['a layer without parameters', [KFAC_BN, { layer: '2', quantity: 'KFAC' }], /QueueRecordError: .*skipped names layer "2", which is not a layer with parameters/],
    ['a quantity the job does not compute', [KFAC_BN, { layer: '0', quantity: 'Variance' }], /QueueRecordError: .*skipped names "Variance" for layer "0", which is not one of the job's quantities/],
    ['a pair the records support', [KFAC_BN, { layer: '0', quantity: 'KFAC' }], /QueueRecordError: .*skipped names KFAC for layer "0", which its module record supports/],
    ['the same pair twice', [KFAC_BN, KFAC_BN], /QueueRecordError: .*skipped lists KFAC for layer "1" twice/],
    ['a list missing a refused pair', [], /QueueRecordError: .*skipped does not list KFAC for layer '1' \(BatchNorm1d\), which its module record refuses/],
    ['no list at all (as without --skip-unsupported)', undefined, /UnsupportedModuleError: KFAC is not supported for BatchNorm1d \(layer '1'\)/],
  ];
  it.each(cases)('%s', async (_label, skipped, reason) => {
    const r = await runCrafted((d) => ({ ...d, skipped }));
    expect(r.state).toBe('failed');
    expectTypedReason(r.reason, reason);
    expect(await ctx.redis.exists(ctx.keys.summary(r.id), ctx.keys.result(r.id, 0), ctx.keys.partial(r.id, 0, 0))).toBe(0);
  });

  it('the exact list runs (the template is otherwise sound)', async () => {
    const r = await runCrafted((d) => ({ ...d, skipped: [KFAC_BN] }));
    expect(r.state, r.reason).toBe('completed');
  });
});
