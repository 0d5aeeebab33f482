/**
 * A job's summary (summary.json, as `run` writes it, plus the job id) as the queue keeps it: in
 * Redis under <ns>:<id>:summary, in each result blob's meta, and as the return value of a batch's
 * reduce. Read back, it is checked for the fields anything downstream relies on.
 */
import { z } from 'zod';
import type { Summary } from '../src/io/results.ts';

export const batchDirName = (batch: number) => `batch-${String(batch).padStart(5, '0')}`;

/** Meta of a batch's result blob in Redis: its summary (the bytes are results.safetensors). */
export interface ResultMeta {
  summary: Summary;
}

/** A summary as read back from Redis or a child: an object that names its job; the rest is passed on. */
export const summarySchema = z.looseObject({
  jobId: z.string(),
  loss: z.number().nullable(),
  N: z.number().int().positive(),
  shards: z.number().int().positive(),
  batch: z.number().int().nonnegative().optional(),
  firstSample: z.number().int().nonnegative().optional(),
});
