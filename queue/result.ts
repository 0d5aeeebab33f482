/**
 * `backpack-ts result ID --out DIR`: writes a finished job's results from Redis in the layout of
 * `backpack-ts run` (results.safetensors + summary.json; per-batch jobs: DIR/batch-NNNNN/ and a
 * summary over the batches). Files are written to a temporary name and renamed.
 */
import path from 'node:path';
import { JobStateError } from '../src/errors/queue-errors.ts';
import type { Summary } from '../src/io/results.ts';
import type { QueueContext } from './context.ts';
import { batchDirName, type ResultMeta } from './reduce-processor.ts';
import { writeFileAtomic } from '../src/io/atomic-write.ts';
import { jobStatus } from './status.ts';
import { getArrays } from './tensor-store.ts';


const json = (x: unknown) => `${JSON.stringify(x, null, 2)}\n`;

/** Writes the results; returns the files written. */
export async function fetchResult(ctx: QueueContext, jobId: string, outDir: string): Promise<string[]> {
  const s = await jobStatus(ctx, jobId);
  if (s.state !== 'completed') throw new JobStateError(`job ${jobId} is ${s.state}; results exist only for completed jobs${s.error ? ` (${s.error})` : ''}`);
  if (!s.resultsInRedis) throw new JobStateError(`job ${jobId} kept no results in Redis: the worker that reduced it wrote them to ${s.outputDir} (submit with "output": {"redis": true} or --wait --out to keep them in Redis)`);
  const summaryJson = await ctx.redis.get(ctx.keys.summary(jobId));
  if (summaryJson === null) throw new JobStateError(`job ${jobId}: its summary is gone from Redis (expired TTL?)`);
  const summary = JSON.parse(summaryJson) as Summary;
  const batches = Array.isArray(summary.batches) ? (summary.batches as { batch: number }[]).map((b) => b.batch) : [0];
  const written: string[] = [];
  for (const b of batches) {
    const blob = await getArrays<ResultMeta>(ctx.redis, ctx.keys.result(jobId, b));
    if (!blob) throw new JobStateError(`job ${jobId}: the results of batch ${b} are gone from Redis (expired TTL?)`);
    const dir = batches.length > 1 || Array.isArray(summary.batches) ? path.join(outDir, batchDirName(b)) : outDir;
    await writeFileAtomic(path.join(dir, 'results.safetensors'), blob.arrays[0] as Uint8Array);
    await writeFileAtomic(path.join(dir, 'summary.json'), json(blob.meta.summary));
    written.push(path.join(dir, 'results.safetensors'), path.join(dir, 'summary.json'));
  }
  if (Array.isArray(summary.batches)) {
    await writeFileAtomic(path.join(outDir, 'summary.json'), json(summary));
    written.push(path.join(outDir, 'summary.json'));
  }
  return written;
}
