/**
 * `backpack-ts result ID --out DIR`: writes a finished job's results from Redis in the layout of
 * `backpack-ts run` (results.safetensors + summary.json; per-batch jobs: DIR/batch-NNNNN/ and a
 * summary over the batches). Files are written to a temporary name and renamed. What is read back
 * is checked first: the batch numbers that become directory names, the result blobs' layout.
 */
import path from 'node:path';
import { z } from 'zod';
import { JobStateError, QueueRecordError } from '../src/errors/queue-errors.ts';
import type { QueueContext } from './context.ts';
import { checkJobId } from './job-id.ts';
import { MAX_SHARDS } from './job-checks.ts';
import { batchDirName, summarySchema } from './summary.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { parseRecord, readJsonRecord } from './record.ts';
import { jobStatus } from './status.ts';
import { getArrays } from './tensor-store.ts';

const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;

const jobSummarySchema = summarySchema.extend({
  batches: z.array(z.looseObject({ batch: z.number().int().nonnegative().max(MAX_SHARDS) })).max(MAX_SHARDS).optional(),
});

/** A result blob: one uint8 array (results.safetensors) under a summary. */
function resultMeta(key: string) {
  return (raw: unknown, arrays: readonly { dtype: string }[]) => {
    const meta = parseRecord(z.strictObject({ summary: summarySchema }), raw, `result ${key}`);
    if (arrays.length !== 1 || arrays[0].dtype !== 'uint8') throw new QueueRecordError(`result ${key}: not one byte array`);
    return meta;
  };
}

export interface JobResults {
  /** The job's summary (with `batches` for a per-batch job). */
  summary: z.infer<typeof jobSummarySchema>;
  /** Each batch's summary and results.safetensors bytes, in batch order. */
  batches: { batch: number; summary: z.infer<typeof summarySchema>; bytes: Uint8Array }[];
}

/** A completed job's results as kept in Redis, checked. */
export async function readJobResults(ctx: QueueContext, jobId: string): Promise<JobResults> {
  checkJobId(jobId, 'result');
  const s = await jobStatus(ctx, jobId);
  if (s.state !== 'completed') throw new JobStateError(`job ${jobId} is ${s.state}; results exist only for completed jobs${s.error ? ` (${s.error})` : ''}`);
  if (!s.resultsInRedis) throw new JobStateError(`job ${jobId} kept no results in Redis: the worker that reduced it wrote them to ${s.outputDir} (submit with "output": {"redis": true} or --wait --out to keep them in Redis)`);
  const summary = await readJsonRecord(ctx.redis, ctx.keys.summary(jobId), jobSummarySchema, `job ${jobId}: summary`);
  if (summary === undefined) throw new JobStateError(`job ${jobId}: its summary is gone from Redis (expired TTL?)`);
  const batches: JobResults['batches'] = [];
  for (const b of summary.batches ? summary.batches.map((x) => x.batch) : [0]) {
    const key = ctx.keys.result(jobId, b);
    const blob = await getArrays(ctx.redis, key, resultMeta(key));
    if (!blob) throw new JobStateError(`job ${jobId}: the results of batch ${b} are gone from Redis (expired TTL?)`);
    batches.push({ batch: b, summary: blob.meta.summary, bytes: blob.arrays[0] as Uint8Array });
  }
  return { summary, batches };
}

/** Writes the results; returns the files written. */
export async function fetchResult(ctx: QueueContext, jobId: string, outDir: string): Promise<string[]> {
  const { summary, batches } = await readJobResults(ctx, jobId);
  const written: string[] = [];
  for (const b of batches) {
    const dir = summary.batches ? path.join(outDir, batchDirName(b.batch)) : outDir;
    await writeFileAtomic(path.join(dir, 'results.safetensors'), b.bytes);
    await writeFileAtomic(path.join(dir, 'summary.json'), json(b.summary));
    written.push(path.join(dir, 'results.safetensors'), path.join(dir, 'summary.json'));
  }
  if (summary.batches) {
    await writeFileAtomic(path.join(outDir, 'summary.json'), json(summary));
    written.push(path.join(outDir, 'summary.json'));
  }
  return written;
}
