/**
 * Records written straight into Redis, bypassing `submit`: what anyone who can write to Redis can
 * do. A template job (descriptor, uploaded tensors, meta) is planted under fresh ids with any
 * mutation of its descriptor, and BullMQ records (a single job, or a whole flow) are added with
 * any payload. Used by the security, fault and fuzz tests.
 */
import type { Job } from 'bullmq';
import { expect } from 'vitest';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import type { QueueContext } from '../../queue/context.ts';
import type { JobDescriptor } from '../../queue/descriptor.ts';
import { newJobId } from '../../queue/job-id.ts';
import { flowOf, planBatches } from '../../queue/submit.ts';
import { putTensors } from '../../queue/tensor-store.ts';
import type { TestJob } from '../helpers/pool-fixtures.ts';
import { until } from './helpers.ts';

export type Tensors = Record<'weights' | 'inputs' | 'targets', Map<string, HostTensor>>;

export interface Template {
  desc: JobDescriptor;
  tensors: Tensors;
}

/** A template job as submit would store it (uploaded tensors, results in Redis). */
export function template(job: TestJob, o: { shardSize?: number; extensions?: string[] } = {}): Template {
  const t = job.tensors;
  const N = t.inputs.shape[0];
  const batches = planBatches(N, { backend: 'wasm', seed: 0, mcSamples: 1, accumulate: false, shardSize: o.shardSize ?? N });
  const desc: JobDescriptor = {
    v: 1, jobId: 'jtemplate00', createdAt: Date.now(), spec: job.net.spec, extensions: o.extensions ?? ['BatchGrad', 'Variance'],
    backend: 'wasm', seed: 0, mcSamples: 1, N, accumulate: false, batches, output: { redis: true }, ttlSeconds: 600,
    tensors: { weights: { kind: 'redis', key: '' }, inputs: { kind: 'redis', key: '' }, targets: { kind: 'redis', key: '' } },
  };
  return { desc, tensors: { weights: t.weights, inputs: new Map([['inputs', t.inputs]]), targets: new Map([['targets', t.targets]]) } };
}

/** The template's descriptor for job `id` (its tensor keys are that job's keys). */
export function descFor(ctx: QueueContext, tpl: Template, id: string): JobDescriptor {
  const d = structuredClone(tpl.desc);
  d.jobId = id;
  for (const name of ['weights', 'inputs', 'targets'] as const) d.tensors[name] = { kind: 'redis', key: ctx.keys.tensor(id, name) };
  return d;
}

export interface Plant {
  /** The descriptor to store (a value is stored as JSON, a string as it is, null: no descriptor). */
  desc?: (d: JobDescriptor) => unknown;
  /** Tensors to upload instead of the template's (null: none). */
  tensors?: Partial<Tensors> | null;
}

/** Plants a job's records (descriptor, meta, uploaded tensors) under a fresh id; returns the id and its descriptor. */
export async function plant(ctx: QueueContext, tpl: Template, o: Plant = {}): Promise<{ id: string; desc: JobDescriptor }> {
  const id = newJobId();
  const desc = descFor(ctx, tpl, id);
  const stored = o.desc ? o.desc(structuredClone(desc)) : desc;
  const { redis, keys } = ctx;
  if (stored !== null) await redis.set(keys.desc(id), typeof stored === 'string' ? stored : JSON.stringify(stored), 'EX', 600);
  const shards = desc.batches.reduce((s, b) => s + b.shards.length, 0);
  await redis.multi().hset(keys.meta(id), { jobId: id, name: '', createdAt: Date.now(), N: desc.N, batches: desc.batches.length, shardsTotal: shards, shardsDone: 0, samplesDone: 0, priority: 0, outputDir: '', outputRedis: 1 }).expire(keys.meta(id), 600).exec();
  if (o.tensors !== null) {
    const tensors = { ...tpl.tensors, ...o.tensors };
    for (const name of ['weights', 'inputs', 'targets'] as const) {
      await putTensors(redis, keys.tensor(id, name), tensors[name], { ttlSeconds: 600, registry: keys.blobs(id), chunkBytes: 1024 });
    }
  }
  return { id, desc };
}

/** Adds one BullMQ job with any payload and id (no retries, kept when it fails). */
export function addRecord(ctx: QueueContext, name: string, data: unknown, id: string): Promise<Job> {
  return ctx.queue.add(name, data, { jobId: id, attempts: 1, removeOnFail: false, removeOnComplete: false });
}

/** Adds the flow submit would add for a descriptor (shards under a reduce, ...). */
export async function addFlow(ctx: QueueContext, desc: JobDescriptor): Promise<void> {
  await ctx.flow.add(flowOf(ctx, desc));
}

/** Waits until a BullMQ job has failed or completed; returns its final state and failedReason. */
export async function settled(ctx: QueueContext, id: string, timeoutMs = 15_000): Promise<{ state: string; reason: string }> {
  let state = '';
  await until(`queue job ${id} to settle`, async () => {
    state = await ctx.queue.getJobState(id);
    return state === 'failed' || state === 'completed';
  }, timeoutMs, 25);
  const job = await ctx.queue.getJob(id);
  return { state, reason: job?.failedReason ?? '' };
}

/** A reason as a worker stores it: typed, one line, no stack trace, nothing of the worker's code. */
export function expectTypedReason(reason: string, name?: RegExp): void {
  expect(reason).toMatch(/^error \[E_[A-Z_]+\] [A-Za-z]+: /);
  if (name) expect(reason).toMatch(name);
  expect(reason).not.toMatch(/\n/);
  expect(reason).not.toMatch(/\bat .+:\d+:\d+/);
  expect(reason).not.toMatch(/node_modules|\.ts:\d+/);
}
