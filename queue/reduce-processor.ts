/**
 * The parents of a job's flow. 'reduce' merges a batch's shard partials IN SHARD ORDER (children
 * values are keyed by BullMQ job id, so they are sorted by shard index first), finalises once and
 * writes the results (output.dir and/or Redis). 'collect' is the root of a per-batch job: it
 * writes the job's summary over its batches. The root marks the job `reducing` before it reads
 * anything (so a cancel can no longer win: job-state.ts), completes it with its summary, and frees
 * the job's tensors and partials.
 *
 * Everything read back is checked: children values against the plan, partials against their
 * shard and against each other (partials-store.ts), the model's parameters against the partials.
 */
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import { log } from '../src/log.ts';
import { BackpackError, ErrorCode } from '../src/errors/index.ts';
import { PayloadTooLargeError, QueueDataError, QueueRecordError } from '../src/errors/queue-errors.ts';
import { formatBytes } from '../src/coordinator/memory-plan.ts';
import type { Summary } from '../src/io/results.ts';
import { encodeSafetensors } from '../src/io/safetensors.ts';
import { describeParameters } from '../src/nn/network.ts';
import { finalize } from '../src/extensions/finalize.ts';
import { skipKeys } from '../src/extensions/support.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { mergePartials } from '../src/reduce/merge.ts';
import type { CheckedDescriptor, JobDescriptor } from './descriptor.ts';
import { deleteJobData } from './job-data.ts';
import type { QueueJobData } from './job-schema.ts';
import { beginFinalReduce, markCompleted } from './job-state.ts';
import { debugBlockMainThread, holdLockFor } from './lock.ts';
import { loadPartials, shardReturnSchema, type StoredPartials } from './partials-store.ts';
import { parseRecord, readJsonRecord } from './record.ts';
import { writeResultsFile, writeSummaryFile } from './safe-write.ts';
import { deleteBlob, putArrays } from './tensor-store.ts';
import { batchDirName, summarySchema, type ResultMeta } from './summary.ts';
import type { WorkerContext } from './worker-context.ts';

type ReduceData = Extract<QueueJobData, { kind: 'reduce' }>;
type CollectData = Extract<QueueJobData, { kind: 'collect' }>;

export const DEFAULT_MAX_RESULT_BYTES = 2 * 2 ** 30;
/** What every summary of a job says, as `run` says it (skipped: only with --skip-unsupported, as run). */
function common({ desc: d, skipped }: CheckedDescriptor) {
  return {
    jobId: d.jobId, name: d.name ?? null, backend: d.backend, extensions: d.extensions, pool: 'queue', seed: d.seed,
    mcSamples: d.mcSamples, subsampling: d.subsampling ?? null, ...(skipped ? { skipped } : {}),
  };
}

/**
 * The root's start: 'reducing' (go on), or the summary of an earlier delivery that completed, or
 * the stop reason of a job that was cancelled or failed first.
 */
async function beginRoot(w: WorkerContext, jobId: string): Promise<Summary | null> {
  const phase = await beginFinalReduce(w.ctx, jobId);
  if (phase === 'reducing') return null;
  if (phase === 'completed') {
    const done = await readJsonRecord(w.ctx.redis, w.ctx.keys.summary(jobId), summarySchema, `job ${jobId}: summary`);
    if (done && done.jobId === jobId) return done as unknown as Summary;
    throw new QueueDataError(`job ${jobId}: completed, but its summary is gone from Redis`);
  }
  if (phase === 'missing') throw new QueueDataError(`job ${jobId}: its meta record is gone from Redis (expired TTL?)`);
  await w.throwIfStopped(jobId);
  throw new UnrecoverableError(`job ${jobId} is ${phase}`);
}

/** Partials of every shard agree with each other and with the model (parameter names, reduction, entry layout). */
function checkAgree(cd: CheckedDescriptor, parts: StoredPartials[], label: string): void {
  const names = Object.keys(describeParameters(cd.spec).params);
  // Entries must agree in key, kind and shape; a moments entry's sample count is the shard's own.
  const shapeOf = (p: StoredPartials) => JSON.stringify(p.layout.map((e) => ('count' in e ? { ...e, count: 0 } : e)));
  const layout = shapeOf(parts[0]);
  for (const [i, p] of parts.entries()) {
    if (p.paramNames.length !== names.length || p.paramNames.some((n, j) => n !== names[j])) throw new QueueRecordError(`${label}: the partials of shard ${i} name other parameters than the model`);
    if (p.reduction !== cd.spec.loss.reduction) throw new QueueRecordError(`${label}: the partials of shard ${i} use reduction '${p.reduction}', the model '${cd.spec.loss.reduction}'`);
    if (shapeOf(p) !== layout) throw new QueueRecordError(`${label}: the partials of shard ${i} hold other entries than those of shard 0`);
  }
}

export async function runReduce(w: WorkerContext, job: Job, token: string | undefined, d: ReduceData, cd: CheckedDescriptor): Promise<Summary> {
  const { ctx } = w;
  const { desc } = cd;
  const label = `job ${d.jobId} batch ${d.batch}`;
  if (d.root) {
    const done = await beginRoot(w, d.jobId);
    if (done) return done;
  } else {
    await w.throwIfStopped(d.jobId);
  }
  const t0 = performance.now();
  const b = desc.batches[d.batch];
  const values = Object.values(await job.getChildrenValues()).map((v) => parseRecord(shardReturnSchema, v, `${label}: a shard's return value`));
  const byShard = new Map(values.filter((v) => v.batch === d.batch).map((v) => [v.shard, v]));
  const missing = b.shards.map((_, i) => i).filter((i) => !byShard.has(i));
  if (missing.length > 0) throw new QueueDataError(`${label}: no result from shards ${missing.slice(0, 20).join(', ')}`);
  const parts: StoredPartials[] = [];
  for (const [i, s] of b.shards.entries()) {
    const p = await loadPartials(ctx.redis, ctx.keys.partial(d.jobId, d.batch, i), { batch: d.batch, shard: i, ...s });
    if (!p) throw new QueueDataError(`${label}: the partials of shard ${i} are gone from Redis (expired TTL?)`);
    parts.push(p);
  }
  checkAgree(cd, parts, label);
  // Merge and finalise run on this thread, synchronously: BullMQ's renewal timer cannot fire meanwhile.
  await holdLockFor(w, job, token);
  debugBlockMainThread(w);
  const merged = mergePartials(parts.map((p) => p.shard)); // sorts by shardId: shard order, never arrival order
  const t1 = performance.now();
  let results: Map<string, HostTensor>;
  try {
    const skip = cd.skipped && skipKeys(cd.skipped);
    results = finalize(merged, { N: b.N, paramNames: parts[0].paramNames, extensions: cd.extensions, subsampling: desc.subsampling, reduction: parts[0].reduction, skip });
  } catch (e) {
    // The partials passed their checks, so what finalize misses is missing from the records.
    if (e instanceof BackpackError && e.code === ErrorCode.Internal) throw new QueueRecordError(`${label}: the partials do not hold what the job's quantities need (${e.message})`);
    throw e;
  }
  const perBatch = !d.root;
  const summary: Omit<Summary, 'shapes'> = {
    ...common(cd), loss: merged.loss, N: b.N, shards: b.shards.length,
    ...(perBatch ? { batch: d.batch, firstSample: b.start } : { batchSize: desc.batchSize ?? null, accumulated: desc.accumulate }),
    timings: { reduceMs: performance.now() - t1, mergeMs: t1 - t0, totalMs: Date.now() - desc.createdAt },
  };
  const full = await writeOutputs(w, desc, d.batch, results, summary, perBatch);
  if (d.root) await finishJob(w, desc, full);
  else await undoIfStopped(w, d.jobId, d.batch);
  log.info(`${label}: reduced ${b.shards.length} shards, loss ${merged.loss.toPrecision(8)}`);
  return full;
}

/** A per-batch result written after a cancel deleted the job's data is removed again (written, then checked). */
async function undoIfStopped(w: WorkerContext, jobId: string, batch: number): Promise<void> {
  if (!(await w.stopRecord(jobId))) return;
  await deleteBlob(w.ctx.redis, w.ctx.keys.result(jobId, batch));
  await w.throwIfStopped(jobId);
}

async function writeOutputs(w: WorkerContext, desc: JobDescriptor, batch: number, results: Map<string, HostTensor>, summary: Omit<Summary, 'shapes'>, perBatch: boolean): Promise<Summary> {
  const shapes: Record<string, number[]> = {};
  for (const [key, t] of results) shapes[key] = t.shape;
  const full = { ...summary, shapes } as Summary;
  if (desc.output.dir) {
    const dir = perBatch ? path.join(desc.output.dir, batchDirName(batch)) : desc.output.dir;
    const what = `job ${desc.jobId}: output.dir`;
    await w.policy.makeOutputDir(dir, what);
    await writeResultsFile(dir, desc.jobId, results, full.loss, what);
    await writeSummaryFile(dir, desc.jobId, full, what);
  }
  if (desc.output.redis) {
    const bytes = encodeSafetensors(results, { format: 'backpack-ts', loss: String(full.loss), job: desc.jobId });
    const limit = w.opts.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
    if (bytes.byteLength > limit) {
      const msg = `job ${desc.jobId}: results of ${formatBytes(bytes.byteLength)} exceed the worker's --max-result ${formatBytes(limit)} for results kept in Redis`;
      if (!desc.output.dir) throw new PayloadTooLargeError(`${msg}; submit the job with output.dir on storage the workers can write`);
      log.warn(`${msg}; they are only in ${desc.output.dir}`);
    } else {
      await putArrays<ResultMeta>(w.ctx.redis, w.ctx.keys.result(desc.jobId, batch), { summary: full }, [bytes], {
        ttlSeconds: desc.ttlSeconds, chunkBytes: w.opts.chunkBytes, registry: w.ctx.keys.blobs(desc.jobId),
      });
    }
  }
  return full;
}

export async function runCollect(w: WorkerContext, job: Job, d: CollectData, cd: CheckedDescriptor): Promise<Summary> {
  const done = await beginRoot(w, d.jobId);
  if (done) return done;
  const { desc } = cd;
  const values = Object.values(await job.getChildrenValues())
    .map((v) => parseRecord(summarySchema, v, `job ${d.jobId}: a batch's summary`))
    .sort((a, b) => (a.batch ?? -1) - (b.batch ?? -1));
  const agrees = values.length === desc.batches.length && values.every((s, i) => {
    const b = desc.batches[i];
    return s.jobId === d.jobId && s.batch === i && s.firstSample === b.start && s.N === b.N && s.shards === b.shards.length;
  });
  if (!agrees) throw new QueueRecordError(`job ${d.jobId}: its batches' summaries do not match its plan of ${desc.batches.length} batches`);
  const batches = values.map((s) => ({ batch: s.batch, firstSample: s.firstSample, N: s.N, loss: s.loss ?? NaN, shards: s.shards, dir: batchDirName(s.batch as number) }));
  const summary = {
    ...common(cd), N: desc.N, batchSize: desc.batchSize, batches,
    loss: batches.reduce((a, b) => a + b.loss * b.N, 0) / desc.N,
    shards: batches.reduce((a, b) => a + b.shards, 0), shapes: {}, timings: { totalMs: Date.now() - desc.createdAt },
  } as Summary;
  if (desc.output.dir) {
    const what = `job ${d.jobId}: output.dir`;
    await w.policy.makeOutputDir(desc.output.dir, what);
    await writeSummaryFile(desc.output.dir, d.jobId, summary, what);
  }
  await finishJob(w, desc, summary);
  return summary;
}

/** The root is done: the summary and `completed` in one step (unless the job was stopped meanwhile), then free tensors and partials. */
async function finishJob(w: WorkerContext, desc: JobDescriptor, summary: Summary): Promise<void> {
  const phase = await markCompleted(w.ctx, desc.jobId, JSON.stringify(summary), desc.ttlSeconds);
  if (phase !== 'completed') {
    await w.throwIfStopped(desc.jobId);
    throw new QueueDataError(`job ${desc.jobId}: could not complete (its state is ${phase})`);
  }
  await deleteJobData(w.ctx, desc.jobId);
  w.cache.forget(desc.jobId);
}
