/**
 * JOB.json (what `backpack-ts submit` reads), validated with zod, and the typed payloads of the
 * BullMQ jobs a submission becomes. Relative paths in JOB.json are relative to the file itself.
 *
 * {
 *   "name": "cifar-variance",                 optional label
 *   "model": "model.json" | { ...spec },      path or inline model spec
 *   "weights": "weights.safetensors", "inputs": "inputs.npy", "targets": "targets.npy",
 *   "vectors": "vectors.safetensors",         optional (GGNMP/HMP)
 *   "extensions": ["Variance"] | "Variance,BatchL2Grad",
 *   "options": { "backend", "shardSize", "seed", "mcSamples", "subsampling", "batchSize", "accumulate", "allowExtraWeights",
 *                "skipUnsupported" },
 *   "tensors": "upload" | "paths",            upload into Redis (default) or read by every worker
 *   "output": { "dir": "out/job", "redis": true },
 *   "priority": 1,                            BullMQ priority: 1 is the highest; none = FIFO after prioritised
 *   "ttlSeconds": 604800                      lifetime of the job's data in Redis
 * }
 */
import path from 'node:path';
import { z } from 'zod';
import { JobSpecError } from '../src/errors/queue-errors.ts';
import { readSmallTextFile } from '../src/io/bounded-read.ts';
import type { SampleRange } from '../src/core/partials.ts';
import { BACKEND_NAMES } from '../src/vocabulary.ts';
import { MAX_SAMPLES, MAX_SHARDS } from './job-checks.ts';
import { jobIdSchema } from './job-id.ts';
import { MAX_PRIORITY } from './limits.ts';
import { describeIssues } from './record.ts';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const filePath = z.string().min(1);

export const jobFileSchema = z.strictObject({
  name: z.string().max(200).optional(),
  model: z.union([filePath, z.record(z.string(), z.unknown())]),
  weights: filePath,
  inputs: filePath,
  targets: filePath,
  vectors: filePath.optional(),
  extensions: z.union([z.string(), z.array(z.string())]).default([]),
  options: z.strictObject({
    backend: z.enum(BACKEND_NAMES).default('wasm'),
    /** Samples per queue shard (one BullMQ child job); default 512, or batchSize with accumulate. */
    shardSize: posInt.optional(),
    seed: nonNegInt.default(0),
    mcSamples: posInt.default(1),
    subsampling: z.array(nonNegInt).optional(),
    /** The inputs are a dataset of mini-batches of this size: one result per batch. */
    batchSize: posInt.optional(),
    /** With batchSize: one exact result over the whole dataset (as one batch of N). */
    accumulate: z.boolean().default(false),
    /** Accept tensors in the weights file that the model does not use (`run --allow-extra-weights`). */
    allowExtraWeights: z.boolean().optional(),
    /**
     * Compute each quantity for every layer that supports it and list the (layer, quantity) pairs
     * left out in the summary's "skipped" (`run --skip-unsupported`); default: refuse the job.
     */
    skipUnsupported: z.boolean().optional(),
  }).default({ backend: 'wasm', seed: 0, mcSamples: 1, accumulate: false }),
  tensors: z.enum(['upload', 'paths']).default('upload'),
  output: z.strictObject({
    /** Written by the worker that reduces: must be storage that worker can write (shared, or its own disk). */
    dir: filePath.optional(),
    /** Keep results in Redis for `backpack-ts result ID --out DIR` (default: true unless `dir` is given). */
    redis: z.boolean().optional(),
  }).default({}),
  priority: z.number().int().min(0).max(MAX_PRIORITY).optional(),
  ttlSeconds: posInt.default(7 * 24 * 3600),
});
export type JobFile = z.infer<typeof jobFileSchema>;

/** Validates a parsed JOB.json and makes its paths absolute (relative to `baseDir`). */
export function parseJobFile(raw: unknown, label: string, baseDir: string): JobFile {
  const r = jobFileSchema.safeParse(raw);
  if (!r.success) throw new JobSpecError(`${label}: ${describeIssues(r.error, 5)}`);
  const job = r.data;
  const abs = (p: string) => path.resolve(baseDir, p);
  if (job.options.accumulate && !job.options.batchSize) throw new JobSpecError(`${label}: options.accumulate needs options.batchSize`);
  return {
    ...job,
    model: typeof job.model === 'string' ? abs(job.model) : job.model,
    weights: abs(job.weights),
    inputs: abs(job.inputs),
    targets: abs(job.targets),
    vectors: job.vectors ? abs(job.vectors) : undefined,
    output: { ...job.output, dir: job.output.dir ? abs(job.output.dir) : undefined },
  };
}

/** A JOB.json larger than this is not a job description (an inline model spec is kilobytes). */
const MAX_JOB_FILE_BYTES = 16 * 2 ** 20;

export async function readJobFile(file: string): Promise<JobFile> {
  // Regular files only, size-capped (src/io/bounded-read.ts): /dev/zero or a FIFO must not hang submit.
  const text = await readSmallTextFile(file, MAX_JOB_FILE_BYTES, (m) => new JobSpecError(`cannot read the job file: ${m}`));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new JobSpecError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseJobFile(raw, file, path.dirname(path.resolve(file)));
}

// ---- what a submission enqueues ------------------------------------------------------------

const jobRef = { jobId: jobIdSchema };
const shardIndex = z.number().int().nonnegative().max(MAX_SHARDS);
const samples = { offset: z.number().int().nonnegative().max(MAX_SAMPLES), count: z.number().int().positive().max(MAX_SAMPLES) };

/** Samples [offset, offset + count) of a batch (src/core/partials.ts's SampleRange), as queue records carry them. */
export const sampleRangeSchema = z.strictObject(samples) satisfies z.ZodType<SampleRange>;

/**
 * A queue shard's place in its job: its batch, its index there, and its samples (offsets within the
 * batch). The shard's record carries it, its stored partials and return value repeat it
 * (partials-store.ts), and each is checked against the job's plan.
 */
export const queueShardSchema = z.strictObject({ batch: shardIndex, shard: shardIndex, ...samples });
export type QueueShard = z.infer<typeof queueShardSchema>;

/**
 * Payloads of the BullMQ jobs (names 'shard', 'reduce', 'collect', 'products'): ids and indices, never tensors.
 * A worker checks every payload against this schema, then against the job's plan (queue-job.ts).
 */
export const queueJobDataSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('shard'), ...jobRef, ...queueShardSchema.shape }),
  /** Merges a batch's shards in shard order and finalises; `root` when the job has one batch. */
  z.strictObject({ kind: z.literal('reduce'), ...jobRef, batch: shardIndex, root: z.boolean(), name: z.string().max(200).optional() }),
  /** The root of a per-batch job: writes the job's summary over its batches. */
  z.strictObject({ kind: z.literal('collect'), ...jobRef, name: z.string().max(200).optional() }),
  /** A products session's shard of pass `pass`: C·v for that pass's vectors over the shard's samples. */
  z.strictObject({ kind: z.literal('products'), ...jobRef, pass: shardIndex, shard: shardIndex, ...samples }),
]);
export type QueueJobData = z.infer<typeof queueJobDataSchema>;
export type QueueJobName = QueueJobData['kind'];
