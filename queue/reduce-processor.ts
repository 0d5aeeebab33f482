/**
 * The parents of a job's flow. 'reduce' merges a batch's shard partials IN SHARD ORDER (children
 * values are keyed by BullMQ job id, so they are sorted by shard index first), finalises once and
 * writes the results (output.dir and/or Redis). 'collect' is the root of a per-batch job: it
 * writes the job's summary over its batches. The root also frees the job's tensors and partials.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Job } from 'bullmq';
import { log } from '../src/cli/log.ts';
import { PayloadTooLargeError, QueueDataError } from '../src/errors/queue-errors.ts';
import { formatBytes } from '../src/coordinator/memory-plan.ts';
import { parseExtensionList } from '../src/extensions/index.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { writeResults, type Summary } from '../src/io/results.ts';
import { encodeSafetensors } from '../src/io/safetensors.ts';
import { finalize } from '../src/reduce/finalize.ts';
import { mergePartials } from '../src/reduce/merge.ts';
import type { ShardPartials } from '../src/reduce/partials.ts';
import { deleteJobData } from './context.ts';
import { readDescriptor } from './job-cache.ts';
import type { JobDescriptor, QueueJobData } from './job-schema.ts';
import { loadPartials, type ShardReturn } from './partials-store.ts';
import { putArrays } from './tensor-store.ts';
import type { WorkerContext } from './worker-context.ts';

type ReduceData = Extract<QueueJobData, { kind: 'reduce' }>;
type CollectData = Extract<QueueJobData, { kind: 'collect' }>;

export const DEFAULT_MAX_RESULT_BYTES = 2 * 2 ** 30;
export const batchDirName = (batch: number) => `batch-${String(batch).padStart(5, '0')}`;

/** Meta of a batch's result blob in Redis: its summary (the bytes are results.safetensors). */
export interface ResultMeta {
  summary: Summary;
}

function common(d: JobDescriptor) {
  return {
    jobId: d.jobId, name: d.name ?? null, backend: d.backend, extensions: d.extensions, pool: 'queue', seed: d.seed,
    mcSamples: d.mcSamples, subsampling: d.subsampling ?? null,
  };
}

export async function runReduce(w: WorkerContext, job: Job, d: ReduceData): Promise<Summary> {
  const { ctx } = w;
  await w.throwIfStopped(d.jobId);
  if (d.root) {
    const done = await finishedSummary(w, d.jobId);
    if (done) return done;
  }
  const t0 = performance.now();
  const desc = await readDescriptor(ctx, d.jobId);
  const b = desc.batches[d.batch];
  const values = Object.values(await job.getChildrenValues()) as ShardReturn[];
  const byShard = new Map(values.filter((v) => v.batch === d.batch).map((v) => [v.shard, v]));
  const missing = b.shards.map((_, i) => i).filter((i) => !byShard.has(i));
  if (missing.length > 0) throw new QueueDataError(`job ${d.jobId} batch ${d.batch}: no result from shards ${missing.join(', ')}`);
  const partials: ShardPartials[] = [];
  let net: { paramNames: string[]; reduction: 'mean' | 'sum' } | undefined;
  for (let i = 0; i < b.shards.length; i++) {
    const p = await loadPartials(ctx.redis, ctx.keys.partial(d.jobId, d.batch, i));
    if (!p) throw new QueueDataError(`job ${d.jobId} batch ${d.batch}: the partials of shard ${i} are gone from Redis (expired TTL?)`);
    partials.push(p.shard);
    net = p;
  }
  const merged = mergePartials(partials); // sorts by shardId: shard order, never arrival order
  const t1 = performance.now();
  const results = finalize(merged, { N: b.N, paramNames: net!.paramNames, extensions: parseExtensionList(desc.extensions), subsampling: desc.subsampling, reduction: net!.reduction });
  const perBatch = !d.root;
  const summary: Omit<Summary, 'shapes'> = {
    ...common(desc), loss: merged.loss, N: b.N, shards: b.shards.length,
    ...(perBatch ? { batch: d.batch, firstSample: b.start } : { batchSize: desc.batchSize ?? null, accumulated: desc.accumulate }),
    timings: { reduceMs: performance.now() - t1, mergeMs: t1 - t0, totalMs: Date.now() - desc.createdAt },
  };
  const full = await writeOutputs(w, desc, d.batch, results, summary, perBatch);
  if (d.root) await finishJob(w, desc, full);
  log.info(`job ${d.jobId} batch ${d.batch}: reduced ${b.shards.length} shards, loss ${merged.loss.toPrecision(8)}`);
  return full;
}

async function writeOutputs(w: WorkerContext, desc: JobDescriptor, batch: number, results: Map<string, HostTensor>, summary: Omit<Summary, 'shapes'>, perBatch: boolean): Promise<Summary> {
  const shapes: Record<string, number[]> = {};
  for (const [key, t] of results) shapes[key] = t.shape;
  const full = { ...summary, shapes } as Summary;
  if (desc.output.dir) await writeResults(perBatch ? path.join(desc.output.dir, batchDirName(batch)) : desc.output.dir, results, summary);
  if (desc.output.redis) {
    const bytes = encodeSafetensors(results, { format: 'backpack-ts', loss: String(summary.loss) });
    const limit = w.opts.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
    if (bytes.byteLength > limit) {
      const msg = `job ${desc.jobId}: results of ${formatBytes(bytes.byteLength)} exceed the worker's --max-result ${formatBytes(limit)} for results kept in Redis`;
      if (!desc.output.dir) throw new PayloadTooLargeError(`${msg}; submit the job with output.dir on storage the workers can write`);
      log.warn(`${msg}; they are only in ${desc.output.dir}`);
    } else {
      await putArrays<ResultMeta>(w.ctx.redis, w.ctx.keys.result(desc.jobId, batch), { summary: full }, [bytes], { ttlSeconds: desc.ttlSeconds, chunkBytes: w.opts.chunkBytes });
    }
  }
  return full;
}

export async function runCollect(w: WorkerContext, job: Job, d: CollectData): Promise<Summary> {
  await w.throwIfStopped(d.jobId);
  const done = await finishedSummary(w, d.jobId);
  if (done) return done;
  const desc = await readDescriptor(w.ctx, d.jobId);
  const values = (Object.values(await job.getChildrenValues()) as Summary[]).sort((a, b) => (a.batch as number) - (b.batch as number));
  if (values.length !== desc.batches.length) throw new QueueDataError(`job ${d.jobId}: ${values.length} of ${desc.batches.length} batches reported`);
  const batches = values.map((s) => ({ batch: s.batch, firstSample: s.firstSample, N: s.N, loss: s.loss, shards: s.shards, dir: batchDirName(s.batch as number) }));
  const summary = {
    ...common(desc), N: desc.N, batchSize: desc.batchSize, batches,
    loss: batches.reduce((a, b) => a + b.loss * b.N, 0) / desc.N,
    shards: batches.reduce((a, b) => a + b.shards, 0), shapes: {}, timings: { totalMs: Date.now() - desc.createdAt },
  } as Summary;
  if (desc.output.dir) {
    await mkdir(desc.output.dir, { recursive: true });
    await writeFile(path.join(desc.output.dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }
  await finishJob(w, desc, summary);
  return summary;
}

/** A root that ran to the end before (and was delivered again) returns what it wrote then. */
async function finishedSummary(w: WorkerContext, jobId: string): Promise<Summary | null> {
  const json = await w.ctx.redis.get(w.ctx.keys.summary(jobId));
  return json === null ? null : (JSON.parse(json) as Summary);
}

/** The root is done: keep the summary, free tensors and partials, stamp the finish time. */
async function finishJob(w: WorkerContext, desc: JobDescriptor, summary: Summary): Promise<void> {
  const { redis, keys } = w.ctx;
  await redis.set(keys.summary(desc.jobId), JSON.stringify(summary), 'EX', desc.ttlSeconds);
  await redis.hset(keys.meta(desc.jobId), 'finishedAt', Date.now());
  await deleteJobData(w.ctx, desc.jobId);
  w.cache.forget(desc.jobId);
}
