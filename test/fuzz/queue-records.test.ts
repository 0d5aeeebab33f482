/**
 * Malformed queue records written straight into Redis (bypassing submit), against a real Redis and
 * a real worker: payloads of every wrong type, ids with glob characters, huge and negative numbers,
 * descriptors whose plan, paths, keys or fields are wrong, tensor blobs whose headers lie, partials
 * of the wrong shape or size. Every record must end in a failed job with a typed reason (one line,
 * no stack trace) within a time bound; the worker must not crash and must serve a good job after.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { collectPartials } from '../../src/coordinator/run-job.ts';
import { sliceRows } from '../../src/core/inputs.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { QueueContext } from '../../queue/context.ts';
import type { JobDescriptor } from '../../queue/descriptor.ts';
import { newJobId } from '../../queue/job-id.ts';
import { readJobFile } from '../../queue/job-schema.ts';
import { storePartials } from '../../queue/partials-store.ts';
import { planBatches, submitJob } from '../../queue/submit.ts';
import { jobStatus, waitForJob } from '../../queue/status.ts';
import { getArrays, putArrays, type StoredArray } from '../../queue/tensor-store.ts';
import { startQueueWorker, type QueueWorker } from '../../queue/worker.ts';
import { makeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { addFlow, addRecord, descFor, expectTypedReason, plant, settled, template, type Template, type Tensors } from '../queue/craft.ts';
import { closeQueueTest, purge, tempDir, testSettings, until, writeJob } from '../queue/helpers.ts';

const N = 12;
const SHARD = 4;
const EXTENSIONS = ['BatchGrad', 'Variance'];
/** Every case must have failed within this long after it was written (the worker takes them one by one). */
const CASE_BOUND_MS = 20_000;
const TOTAL_BOUND_MS = 90_000;

const settings = testSettings();
const tmp = tempDir('fuzz');
const D = path.join(realpathSync(tmp.dir), 'data');
const O = path.join(realpathSync(tmp.dir), 'out');
let ctx: QueueContext;
let worker: QueueWorker;
let job: TestJob;
let tpl: Template;
type Blob = { meta: Record<string, unknown>; arrays: StoredArray[] };
const partials: Blob[] = [];

beforeAll(async () => {
  await useBackend('wasm');
  mkdirSync(D);
  mkdirSync(O);
  job = makeJob('mlp', N, 11);
  tpl = template(job, { shardSize: SHARD, extensions: EXTENSIONS });
  ctx = await QueueContext.open(settings);
  worker = await startQueueWorker(settings, { workers: 1, concurrency: 4, dataRoots: [D], outputRoot: O, lockDurationMs: 10_000, stalledIntervalMs: 10_000 });
  // Real partials of the template's three shards, to be mutated below.
  const scratch = newJobId();
  for (let i = 0; i < N / SHARD; i++) {
    const t = job.tensors;
    const c = await collectPartials(worker.pool, { spec: t.spec, weights: t.weights, inputs: sliceRows(t.inputs, i * SHARD, SHARD), targets: sliceRows(t.targets, i * SHARD, SHARD) },
      { backend: 'wasm', extensions: ['BatchGrad', 'Variance'], seed: 0, mcSamples: 1 }, { N, rowOffset: i * SHARD, shards: [{ shardId: 0, offset: i * SHARD, count: SHARD }] });
    const key = ctx.keys.partial(scratch, 0, i);
    await storePartials(ctx.redis, key, { batch: 0, shard: i, offset: i * SHARD, count: SHARD, loss: c.merged.loss }, c.merged, { paramNames: c.paramNames, reduction: c.reduction }, { ttlSeconds: 600 });
    partials.push((await getArrays(ctx.redis, key, (m) => m as Record<string, unknown>))!);
  }
});

afterAll(() => closeQueueTest({ worker, ctx, settings, tmp, job }));

// ---- the cases ------------------------------------------------------------------------------

type Mutable = Record<string, unknown>;
interface Case {
  label: string;
  /** Writes the records; returns the BullMQ id to watch and the job id whose status to check (if any). */
  write(): Promise<{ watch: string; jobId?: string }>;
  /** The typed error expected in the reason. */
  expect: RegExp;
}
const cases: Case[] = [];
const RECORD = /QueueRecordError/;

const shardData = (jobId: string, o: Mutable = {}) => ({ kind: 'shard', jobId, batch: 0, shard: 0, offset: 0, count: SHARD, ...o });

// 1. BullMQ payloads and ids: refused before anything else is read.
const payloads: [string, unknown, string?, string?][] = [
  ['data null', null], ['data an array', []], ['data a string', 'shard'], ['data a number', 42], ['data an empty object', {}],
  ['kind missing', { jobId: newJobId(), batch: 0, shard: 0, offset: 0, count: SHARD }], ['kind unknown', shardData(newJobId(), { kind: 'shardz' })],
  ['kind a number', shardData(newJobId(), { kind: 7 })], ['jobId missing', { kind: 'shard', batch: 0, shard: 0, offset: 0, count: SHARD }],
  ['jobId a number', shardData('x', { jobId: 5 })], ['jobId *', shardData('*')], ['jobId ?', shardData('?')], ['jobId [a-z]*', shardData('[a-z]*')],
  ['jobId j\\*', shardData('j\\*abcdefgh')], ['jobId with a key separator', shardData('jabcdefgh:desc')], ['jobId ../../etc', shardData('../../etc')],
  ['jobId empty', shardData('')], ['jobId 1001 characters', shardData(`j${'a'.repeat(1000)}`)], ['jobId uppercase', shardData('JABCDEFGH1')],
  ['jobId with a space', shardData('jabc defgh')], ['jobId non-ASCII', shardData('jabcdéfgh1')], ['jobId with a newline', shardData('jabcdefgh\n1')],
  ['batch -1', shardData(newJobId(), { batch: -1 })], ['batch 1.5', shardData(newJobId(), { batch: 1.5 })], ['batch a string', shardData(newJobId(), { batch: '0' })],
  ['batch 1e12', shardData(newJobId(), { batch: 1e12 })], ['batch null', shardData(newJobId(), { batch: null })], ['shard -1', shardData(newJobId(), { shard: -1 })],
  ['shard 2^53', shardData(newJobId(), { shard: 2 ** 53 })], ['offset -5', shardData(newJobId(), { offset: -5 })], ['offset 1e300', shardData(newJobId(), { offset: 1e300 })],
  ['count 0', shardData(newJobId(), { count: 0 })], ['count -1', shardData(newJobId(), { count: -1 })], ['count 1e10', shardData(newJobId(), { count: 1e10 })],
  ['an extra field', shardData(newJobId(), { evil: true })], ['reduce root a string', { kind: 'reduce', jobId: newJobId(), batch: 0, root: 'yes' }, 'reduce'],
  ['reduce name a number', { kind: 'reduce', jobId: newJobId(), batch: 0, root: true, name: 5 }, 'reduce'],
  ['reduce name 10000 characters', { kind: 'reduce', jobId: newJobId(), batch: 0, root: true, name: 'x'.repeat(10_000) }, 'reduce'],
  ['collect with a batch', { kind: 'collect', jobId: newJobId(), batch: 0 }, 'collect'],
];
for (const [label, data, name] of payloads) {
  cases.push({ label: `payload: ${label}`, expect: RECORD, write: async () => {
    const id = `fz${Math.random().toString(36).slice(2)}`;
    await addRecord(ctx, name ?? 'shard', data, id);
    return { watch: id };
  } });
}
cases.push({ label: 'payload fine, BullMQ id not the one it implies', expect: RECORD, write: async () => {
  await addRecord(ctx, 'shard', shardData(newJobId()), 'other-id');
  return { watch: 'other-id' };
} });
cases.push({ label: 'shard payload under the name reduce', expect: RECORD, write: async () => {
  const id = newJobId();
  await addRecord(ctx, 'reduce', shardData(id), `${id}-b0-s0`);
  return { watch: `${id}-b0-s0` };
} });
cases.push({ label: 'a shard of a job that was never submitted', expect: /QueueDataError: .*descriptor is gone/, write: async () => {
  const id = newJobId();
  await addRecord(ctx, 'shard', shardData(id), `${id}-b0-s0`);
  return { watch: `${id}-b0-s0` };
} });

// 2. Descriptors: a job planted with uploaded tensors and a mutated descriptor, then its first shard.
function descCase(label: string, expect: RegExp, mutate: (d: JobDescriptor & Mutable) => unknown, after?: (id: string) => Promise<void>): void {
  cases.push({ label: `descriptor: ${label}`, expect, write: async () => {
    const { id } = await plant(ctx, tpl, { desc: (d) => mutate(d as JobDescriptor & Mutable) });
    await after?.(id);
    await addRecord(ctx, 'shard', shardData(id), `${id}-b0-s0`);
    return { watch: `${id}-b0-s0`, jobId: id };
  } });
}
const set = (o: Mutable) => (d: Mutable) => ({ ...d, ...o });
const replan = (n: number, o: Partial<JobDescriptor> = {}) => (d: Mutable) => ({ ...d, N: n, batches: planBatches(n, { backend: 'wasm', seed: 0, mcSamples: 1, accumulate: false, shardSize: SHARD }), ...o });
descCase('not JSON', RECORD, () => '{"v": 1, "jobId":');
descCase('a JSON array', RECORD, () => '[]');
descCase('JSON null', RECORD, () => 'null');
descCase('a JSON number', RECORD, () => '5');
descCase('a Redis hash where a string belongs', RECORD, () => null, async (id) => {
  await ctx.redis.hset(ctx.keys.desc(id), 'v', '1');
});
descCase('over the record size limit', RECORD, () => `{"pad":"${'a'.repeat(33 * 2 ** 20)}"}`);
descCase('version 2', RECORD, set({ v: 2 }));
descCase('another job id', /QueueRecordError: .*names another job/, set({ jobId: newJobId() }));
descCase('job id *', RECORD, set({ jobId: '*' }));
descCase('no spec', RECORD, (d) => ({ ...d, spec: undefined }));
descCase('spec a string', /ModelSpecError/, set({ spec: 'garbage' }));
descCase('spec with an unknown layer', /ModelSpecError/, (d) => ({ ...d, spec: { ...(d.spec as Mutable), layers: [{ type: 'Teleport' }] } }));
descCase('spec with negative features', /ModelSpecError/, (d) => ({ ...d, spec: { ...(d.spec as Mutable), layers: [{ type: 'Linear', in_features: -4, out_features: 2 }] } }));
descCase('an unknown quantity', /UnknownExtensionError/, set({ extensions: ['Nope'] }));
descCase('quantities a string', RECORD, set({ extensions: 'Variance' }));
descCase('65 quantities', RECORD, set({ extensions: Array(65).fill('BatchGrad') }));
descCase('backend cuda9', RECORD, set({ backend: 'cuda9' }));
descCase('seed -1', RECORD, set({ seed: -1 }));
descCase('seed 1.5', RECORD, set({ seed: 1.5 }));
descCase('mcSamples 0', RECORD, set({ mcSamples: 0 }));
descCase('subsampling -1', RECORD, set({ subsampling: [-1] }));
descCase('subsampling outside the batch', /UsageError: subsampling index 99 is outside \[0, 12\)/, set({ subsampling: [99] }));
descCase('subsampling a string', RECORD, set({ subsampling: 'x' }));
descCase('no tensors', RECORD, (d) => ({ ...d, tensors: undefined }));
descCase('a tensor of kind ftp', RECORD, (d) => ({ ...d, tensors: { ...d.tensors, inputs: { kind: 'ftp', path: '/x' } } }));
descCase('inputs at key *', /QueueRecordError: .*not this job's inputs/, (d) => ({ ...d, tensors: { ...d.tensors, inputs: { kind: 'redis', key: '*' } } }));
descCase("weights at another job's key", /QueueRecordError: .*not this job's weights/, (d) => ({ ...d, tensors: { ...d.tensors, weights: { kind: 'redis', key: ctx.keys.tensor(newJobId(), 'weights') } } }));
descCase("vectors at another job's key", /QueueRecordError: .*not this job's vectors/, (d) => ({ ...d, tensors: { ...d.tensors, vectors: { kind: 'redis', key: ctx.keys.tensor(newJobId(), 'vectors') } } }));
descCase('a relative path', RECORD, (d) => ({ ...d, tensors: { ...d.tensors, inputs: { kind: 'path', path: 'inputs.npy' } } }));
descCase('a path with ..', RECORD, (d) => ({ ...d, tensors: { ...d.tensors, inputs: { kind: 'path', path: `${D}/../../../etc/passwd.npy` } } }));
descCase('a path outside the data root', /PathPolicyError/, (d) => ({ ...d, tensors: { ...d.tensors, inputs: { kind: 'path', path: '/etc/passwd.npy' } } }));
descCase('a path with a NUL', RECORD, (d) => ({ ...d, tensors: { ...d.tensors, inputs: { kind: 'path', path: `${D}/a\u0000.npy` } } }));
descCase('N 0', RECORD, set({ N: 0 }));
descCase('N -1', RECORD, set({ N: -1 }));
descCase('N 1e15', RECORD, set({ N: 1e15 }));
descCase('N 11 with a plan for 11, tensors of 12', /QueueRecordError: .*says N=11, its inputs hold 12/, replan(11));
descCase('no batches', RECORD, set({ batches: [] }));
descCase('a gap between shards', RECORD, (d) => ({ ...d, batches: [{ ...d.batches[0], shards: [{ offset: 0, count: 4 }, { offset: 5, count: 3 }, { offset: 8, count: 4 }] }] }));
descCase('a shard of 0 samples', RECORD, (d) => ({ ...d, batches: [{ ...d.batches[0], shards: [{ offset: 0, count: 0 }, ...d.batches[0].shards] }] }));
descCase('overlapping shards', RECORD, (d) => ({ ...d, batches: [{ ...d.batches[0], shards: [{ offset: 0, count: 4 }, { offset: 3, count: 4 }, { offset: 8, count: 4 }] }] }));
descCase('shards that cover 8 of 12 samples', RECORD, (d) => ({ ...d, batches: [{ ...d.batches[0], shards: d.batches[0].shards.slice(0, 2) }] }));
descCase('a batch numbered 3', RECORD, (d) => ({ ...d, batches: [{ ...d.batches[0], batch: 3 }] }));
descCase('batchSize 4 with a plan of one batch', /QueueRecordError: .*1 batches where N=12 makes 3/, set({ batchSize: 4 }));
descCase('accumulate without batchSize', RECORD, set({ accumulate: true }));
descCase('KFRA over 3 shards', /NotShardableError/, set({ extensions: ['KFRA'] }));
descCase('output.dir relative', RECORD, set({ output: { dir: 'out', redis: true } }));
descCase('output.dir with ..', RECORD, set({ output: { dir: `${O}/../..`, redis: true } }));
descCase('output.dir outside the output root', /PathPolicyError/, set({ output: { dir: '/tmp', redis: true } }));
descCase('output.dir a number', RECORD, set({ output: { dir: 5, redis: true } }));
descCase('output.redis a string', RECORD, set({ output: { redis: 'yes' } }));
descCase('ttlSeconds 0', RECORD, set({ ttlSeconds: 0 }));
descCase('ttlSeconds -1', RECORD, set({ ttlSeconds: -1 }));
descCase('ttlSeconds 1e12', RECORD, set({ ttlSeconds: 1e12 }));
descCase('priority -1', RECORD, set({ priority: -1 }));
descCase('an unknown field', RECORD, set({ tensorsPath: '/etc' }));
descCase('createdAt a string', RECORD, set({ createdAt: 'x' }));
descCase('100001 batches', RECORD, (d) => ({ ...d, batches: Array.from({ length: 100_001 }, () => d.batches[0]) }));
descCase('a name of 201 characters', RECORD, set({ name: 'x'.repeat(201) }));

// 3. Uploaded tensors whose blobs lie: headers rewritten in place, or tensors that do not fit.
async function rewriteHeader(key: string, edit: (h: Mutable) => unknown): Promise<void> {
  const h = JSON.parse((await ctx.redis.get(key))!) as Mutable;
  const out = edit(h);
  await ctx.redis.set(key, typeof out === 'string' ? out : JSON.stringify(out ?? h), 'KEEPTTL');
}
function tensorCase(label: string, expect: RegExp, o: { tensors?: () => Partial<Tensors>; edit?: (id: string) => Promise<void> }): void {
  cases.push({ label: `tensors: ${label}`, expect, write: async () => {
    const { id } = await plant(ctx, tpl, { tensors: o.tensors?.() });
    await o.edit?.(id);
    await addRecord(ctx, 'shard', shardData(id), `${id}-b0-s0`);
    return { watch: `${id}-b0-s0`, jobId: id };
  } });
}
const inputsHeader = (edit: (h: Mutable) => unknown) => (id: string) => rewriteHeader(ctx.keys.tensor(id, 'inputs'), edit);
const arraysOf = (h: Mutable) => h.arrays as Mutable[];
const f32 = (shape: number[], fill = 0.5): HostTensor => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });
tensorCase('header not JSON', RECORD, { edit: inputsHeader(() => '{"v":') });
tensorCase('header version 2', RECORD, { edit: inputsHeader((h) => ({ ...h, v: 2 })) });
tensorCase('chunk token *', RECORD, { edit: inputsHeader((h) => ({ ...h, token: '*' })) });
tensorCase('chunkBytes 1', RECORD, { edit: inputsHeader((h) => ({ ...h, chunkBytes: 1 })) });
tensorCase('0 chunks', RECORD, { edit: inputsHeader((h) => ({ ...h, chunks: 0 })) });
tensorCase('one chunk more than the arrays fill', RECORD, { edit: inputsHeader((h) => ({ ...h, chunks: (h.chunks as number) + 1 })) });
tensorCase('an array at the wrong offset', RECORD, { edit: inputsHeader((h) => ({ ...h, arrays: [{ ...arraysOf(h)[0], offset: 8 }] })) });
tensorCase('dtype float16', RECORD, { edit: inputsHeader((h) => ({ ...h, arrays: [{ ...arraysOf(h)[0], dtype: 'float16' }] })) });
tensorCase('a negative length', RECORD, { edit: inputsHeader((h) => ({ ...h, arrays: [{ ...arraysOf(h)[0], length: -1 }] })) });
tensorCase('a length of 2^40', RECORD, { edit: inputsHeader((h) => ({ ...h, arrays: [{ ...arraysOf(h)[0], length: 2 ** 40 }] })) });
tensorCase('meta without tensors', RECORD, { edit: inputsHeader((h) => ({ ...h, meta: {} })) });
tensorCase('a shape that does not match the array', RECORD, { edit: inputsHeader((h) => ({ ...h, meta: { tensors: [{ name: 'inputs', dtype: 'float32', shape: [12, 5] }] } })) });
tensorCase('a chunk cut short', RECORD, { edit: async (id) => {
  const key = ctx.keys.tensor(id, 'inputs');
  const h = JSON.parse((await ctx.redis.get(key))!) as { token: string };
  await ctx.redis.set(`${key}:${h.token}:0`, Buffer.alloc(10), 'KEEPTTL');
} });
tensorCase('a chunk gone', /QueueDataError: .*chunk 0/, { edit: async (id) => {
  const key = ctx.keys.tensor(id, 'inputs');
  const h = JSON.parse((await ctx.redis.get(key))!) as { token: string };
  await ctx.redis.del(`${key}:${h.token}:0`);
} });
tensorCase('weights header a Redis hash', RECORD, { edit: async (id) => {
  await ctx.redis.del(ctx.keys.tensor(id, 'weights'));
  await ctx.redis.hset(ctx.keys.tensor(id, 'weights'), 'v', '1');
} });
tensorCase('inputs holding two tensors', RECORD, { tensors: () => ({ inputs: new Map([['a', f32([12, 4])], ['b', f32([12, 4])]]) }) });
tensorCase('inputs of 5 rows', /ShapeError/, { tensors: () => ({ inputs: new Map([['inputs', f32([5, 4])]]) }) });
tensorCase('inputs of the wrong sample shape', /ShapeError/, { tensors: () => ({ inputs: new Map([['inputs', f32([12, 5])]]) }) });
tensorCase('a scalar as inputs', RECORD, { tensors: () => ({ inputs: new Map([['inputs', f32([])]]) }) });
tensorCase('targets of 11 rows', /ShapeError/, { tensors: () => ({ targets: new Map([['targets', f32([11, 2])]]) }) });
tensorCase('weights transposed', /WeightsError/, { tensors: () => ({ weights: new Map([...job.tensors.weights].map(([k, t]) => [k, k === '0.weight' ? f32([4, 5]) : t])) }) });
tensorCase('weights with a NaN', /NonFiniteError/, { tensors: () => ({ weights: new Map([...job.tensors.weights].map(([k, t]) => [k, k === '0.bias' ? f32(t.shape, NaN) : t])) }) });
tensorCase('weights without a parameter', /WeightsError/, { tensors: () => ({ weights: new Map([...job.tensors.weights].filter(([k]) => k !== '2.weight')) }) });

// 4. Partials: the whole flow, the shards' partials planted (so no shard computes), one of them wrong.
function partialsCase(label: string, expect: RegExp, edit: (p: Blob[]) => void): void {
  cases.push({ label: `partials: ${label}`, expect, write: async () => {
    const { id, desc } = await plant(ctx, tpl);
    const blobs = partials.map((p) => ({ meta: structuredClone(p.meta), arrays: p.arrays.map((a) => a.slice()) as StoredArray[] }));
    edit(blobs);
    for (const [i, b] of blobs.entries()) {
      await putArrays(ctx.redis, ctx.keys.partial(id, 0, i), b.meta, b.arrays, { ttlSeconds: 600, registry: ctx.keys.blobs(id) });
    }
    await addFlow(ctx, desc);
    return { watch: id, jobId: id };
  } });
}
const entries = (b: Blob) => b.meta.entries as Mutable[];
partialsCase('another batch', RECORD, (p) => void (p[1].meta.batch = 1));
partialsCase('another shard index', RECORD, (p) => void (p[1].meta.shard = 2));
partialsCase('another offset', RECORD, (p) => void (p[1].meta.offset = 5));
partialsCase('another count', RECORD, (p) => void (p[1].meta.count = 3));
partialsCase('a loss that is a string', RECORD, (p) => void (p[1].meta.loss = 'x'));
partialsCase('other parameter names', RECORD, (p) => void (p[1].meta.paramNames = ['a.weight']));
partialsCase('reduction max', RECORD, (p) => void (p[1].meta.reduction = 'max'));
partialsCase('an entry twice', RECORD, (p) => {
  p[1].meta.entries = [entries(p[1])[0], ...entries(p[1])];
  p[1].arrays = [p[1].arrays[0], ...p[1].arrays];
});
partialsCase('a sum whose array is too short', RECORD, (p) => {
  const i = entries(p[1]).findIndex((e) => e.kind === 'sum');
  p[1].arrays[i] = new Float64Array(1);
});
partialsCase('rows for more samples than the shard has', RECORD, (p) => {
  const i = entries(p[1]).findIndex((e) => e.kind === 'rows');
  const a = p[1].arrays[i] as Int32Array;
  p[1].arrays[i] = Int32Array.from([...a, 99]);
  p[1].arrays[i + 1] = new Float32Array((p[1].arrays[i + 1] as Float32Array).length / a.length * (a.length + 1));
});
partialsCase('a row of a sample outside the shard', RECORD, (p) => {
  const i = entries(p[1]).findIndex((e) => e.kind === 'rows');
  (p[1].arrays[i] as Int32Array)[0] = 0;
});
partialsCase('rows out of order', RECORD, (p) => {
  const i = entries(p[1]).findIndex((e) => e.kind === 'rows');
  (p[1].arrays[i] as Int32Array).reverse();
});
partialsCase('float32 where float64 belongs', RECORD, (p) => {
  const i = entries(p[1]).findIndex((e) => e.kind === 'sum');
  p[1].arrays[i] = new Float32Array((p[1].arrays[i] as Float64Array).length);
});
partialsCase('an extra array', RECORD, (p) => void p[1].arrays.push(new Float64Array(3)));
partialsCase('one shard without an entry the others have', RECORD, (p) => {
  p[1].meta.entries = entries(p[1]).slice(1);
  p[1].arrays = p[1].arrays.slice(1);
});
partialsCase('every shard without the gradient', RECORD, (p) => {
  for (const b of p) {
    const i = entries(b).findIndex((e) => String(e.key).endsWith('.grad'));
    b.meta.entries = entries(b).filter((_, j) => j !== i);
    b.arrays = b.arrays.filter((_, j) => j !== i);
  }
});
partialsCase('an unknown entry kind', RECORD, (p) => void (entries(p[1])[0].kind = 'spilled'));
partialsCase('a 9-dimensional entry', RECORD, (p) => void (entries(p[1])[0].shape = [1, 1, 1, 1, 1, 1, 1, 1, 1]));

// 5. Parents and shards whose place is not in the plan.
function planCase(label: string, name: string, data: (id: string) => Mutable, bullId: (id: string) => string): void {
  cases.push({ label: `plan: ${label}`, expect: RECORD, write: async () => {
    const { id } = await plant(ctx, tpl);
    await addRecord(ctx, name, data(id), bullId(id));
    return { watch: bullId(id) };
  } });
}
planCase('a per-batch reduce of a one-batch job', 'reduce', (id) => ({ kind: 'reduce', jobId: id, batch: 0, root: false }), (id) => `${id}-b0`);
planCase('a collect of a one-batch job', 'collect', (id) => ({ kind: 'collect', jobId: id }), (id) => id);
planCase('a reduce of batch 5', 'reduce', (id) => ({ kind: 'reduce', jobId: id, batch: 5, root: true }), (id) => id);
planCase('shard 9 of 3', 'shard', (id) => shardData(id, { shard: 9 }), (id) => `${id}-b0-s9`);
planCase('a shard with other samples than the plan', 'shard', (id) => shardData(id, { offset: 1 }), (id) => `${id}-b0-s0`);
planCase('a shard of 5 samples where the plan has 4', 'shard', (id) => shardData(id, { count: 5 }), (id) => `${id}-b0-s0`);

// ---- the run --------------------------------------------------------------------------------

it(`${cases.length} malformed records each end in a failed job with a typed reason; the worker serves a good job afterwards`, async () => {
  expect(cases.length).toBeGreaterThanOrEqual(100);
  const t0 = Date.now();
  const written = await Promise.all(cases.map(async (c) => ({ c, at: Date.now(), ...(await c.write()) })));
  const problems: string[] = [];
  await Promise.all(written.map(async ({ c, at, watch, jobId }) => {
    try {
      const r = await settled(ctx, watch, CASE_BOUND_MS);
      if (Date.now() - at > CASE_BOUND_MS) problems.push(`${c.label}: settled after ${Date.now() - at} ms`);
      // The job's own status carries the first typed reason (a parent's own is BullMQ's "child … failed").
      const status = jobId && r.reason.startsWith('error [') === false ? await jobStatus(ctx, jobId) : undefined;
      const reason = status?.error ?? r.reason;
      if (r.state !== 'failed') problems.push(`${c.label}: ${r.state}`);
      expectTypedReason(reason, c.expect);
      if (status) expect(status.state).toBe('failed');
    } catch (e) {
      problems.push(`${c.label}: ${(e as Error).message.split('\n')[0]}`);
    }
  }));
  expect(problems).toEqual([]);
  expect(Date.now() - t0).toBeLessThan(TOTAL_BOUND_MS);

  expect(worker.bull.isRunning()).toBe(true);
  const good = await submitJob(ctx, await readJobFile(await writeJob(D, job, { extensions: EXTENSIONS, options: { shardSize: SHARD } })));
  await expect(waitForJob(ctx, good.jobId, { timeoutMs: 30_000 })).resolves.toMatchObject({ N });
  await until('nothing left running', async () => (await ctx.queue.getActiveCount()) === 0, 5000);
}, 180_000);

it('a planted descriptor that is valid runs (the harness itself is sound)', async () => {
  const { id, desc } = await plant(ctx, tpl);
  expect(desc).toEqual(descFor(ctx, tpl, id));
  await addFlow(ctx, desc);
  await expect(waitForJob(ctx, id, { timeoutMs: 30_000 })).resolves.toMatchObject({ N });
});
