/**
 * A job's descriptor (<ns>:<id>:desc): everything a worker needs to run any shard of the job.
 * `submit` builds it and checks it with checkDescriptor before writing it; every worker reads it
 * back through checkDescriptor too, because anyone who can write to Redis can rewrite it. The
 * checks are the schema below (fields, types, bounds) and then the job's own consistency: its id,
 * its model, its quantities, tensor keys that are exactly this job's keys, the shard plan, the
 * pairs a --skip-unsupported job leaves out (see job-checks.ts). Paths are checked here only for
 * form; whether a worker may read or write them is its PathPolicy's business (path-policy.ts).
 */
import path from 'node:path';
import { z } from 'zod';
import { QueueDataError, QueueRecordError } from '../src/errors/queue-errors.ts';
import { parseExtensionList } from '../src/extensions/index.ts';
import type { Unsupported } from '../src/extensions/support.ts';
import { parseModelSpec } from '../src/nn/parse-spec.ts';
import type { ModelSpec } from '../src/nn/spec.ts';
import { BACKEND_NAMES, type ExtensionName } from '../src/vocabulary.ts';
import type { QueueContext } from './context.ts';
import { jobIdSchema } from './job-id.ts';
import { sampleRangeSchema } from './job-schema.ts';
import { checkPlan, checkShardable, checkSkipped, checkSubsamplingInBatches, MAX_SAMPLES, MAX_SHARDS } from './job-checks.ts';
import { MAX_PRIORITY } from './limits.ts';
import type { QueueKeys } from './keys.ts';
import { parseRecord, readJsonRecord } from './record.ts';

const MAX_PATH = 4096;

/** An absolute, normalised path: no `.` or `..` segment, no NUL (whatever the policy says later). */
export function isPlainAbsolutePath(p: string): boolean {
  return path.isAbsolute(p) && path.normalize(p) === p && !p.includes('\0') && !p.split(path.sep).some((s) => s === '..' || s === '.');
}
export const absolutePathSchema = z.string().min(1).max(MAX_PATH).refine(isPlainAbsolutePath, 'must be an absolute path without . or .. segments');

const count = z.number().int().positive().max(MAX_SAMPLES);
const index = z.number().int().nonnegative().max(MAX_SAMPLES);

/** Where a worker finds a tensor: a file on storage every worker reads, or a blob key in Redis. */
const tensorLocationSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('path'), path: absolutePathSchema }),
  z.strictObject({ kind: z.literal('redis'), key: z.string().min(1).max(1024) }),
]);
export type TensorLocation = z.infer<typeof tensorLocationSchema>;

/** First row of a batch in the dataset, its size (its N), and its shards (offsets within the batch). */
const batchPlanSchema = z.strictObject({
  batch: index,
  start: index,
  N: count,
  shards: z.array(sampleRangeSchema).min(1).max(MAX_SHARDS),
});
export type BatchPlan = z.infer<typeof batchPlanSchema>;

export const descriptorSchema = z.strictObject({
  v: z.literal(1),
  jobId: jobIdSchema,
  name: z.string().max(200).optional(),
  createdAt: z.number().int().nonnegative(),
  /** The model spec as submitted (parsed by parseModelSpec below). */
  spec: z.unknown(),
  extensions: z.array(z.string().min(1).max(64)).max(64),
  backend: z.enum(BACKEND_NAMES),
  seed: z.number().int().nonnegative().max(2 ** 32 - 1),
  mcSamples: z.number().int().positive().max(10_000),
  subsampling: z.array(index).max(MAX_SAMPLES).optional(),
  tensors: z.strictObject({ weights: tensorLocationSchema, inputs: tensorLocationSchema, targets: tensorLocationSchema, vectors: tensorLocationSchema.optional() }),
  /** Dataset rows; batchSize and accumulate as in `backpack-ts run`. */
  N: count,
  batchSize: count.optional(),
  accumulate: z.boolean(),
  /** Tensors in the weights that the model does not use are accepted (the job file's options.allowExtraWeights). */
  allowExtraWeights: z.boolean().optional(),
  batches: z.array(batchPlanSchema).min(1).max(MAX_SHARDS),
  output: z.strictObject({ dir: absolutePathSchema.optional(), redis: z.boolean() }),
  ttlSeconds: z.number().int().positive().max(10 * 365 * 24 * 3600),
  priority: z.number().int().min(0).max(MAX_PRIORITY).optional(),
  /**
   * A products session (src/spectrum/ over the queue, queue/spectrum-session.ts): no quantities;
   * its 'products' records multiply the vectors of one pass with the GGN or Hessian over one shard.
   */
  products: z.strictObject({ curvature: z.enum(['ggn', 'hessian']) }).optional(),
  /**
   * --skip-unsupported: the (layer, quantity) pairs left out, exactly those the module records
   * refuse (checkSkipped); absent: the job computes every pair or is refused.
   */
  skipped: z.array(z.strictObject({ layer: z.string().min(1).max(200), quantity: z.string().min(1).max(64) })).max(100_000).optional(),
});
export type JobDescriptor = z.infer<typeof descriptorSchema>;

export const TENSOR_NAMES = ['weights', 'inputs', 'targets', 'vectors'] as const;

/** A descriptor that passed every check, with its model and quantities parsed once. */
export interface CheckedDescriptor {
  desc: JobDescriptor;
  spec: ModelSpec;
  extensions: ExtensionName[];
  /** The pairs left out, with their reasons (present iff the record lists them: --skip-unsupported). */
  skipped?: Unsupported[];
}

/** The descriptor of job `jobId`, checked (see the file comment); typed errors name what is wrong. */
export function checkDescriptor(raw: unknown, jobId: string, keys: QueueKeys): CheckedDescriptor {
  const label = `job ${jobId}: descriptor`;
  const desc = parseRecord(descriptorSchema, raw, label);
  if (desc.jobId !== jobId) throw new QueueRecordError(`${label} names another job (${desc.jobId})`);
  const spec = parseModelSpec(desc.spec, `job ${jobId}: model`);
  const extensions = parseExtensionList(desc.extensions);
  for (const name of TENSOR_NAMES) {
    const loc = desc.tensors[name];
    // A tensor kept in Redis is this job's own key, never another job's (nor any other key).
    if (loc?.kind === 'redis' && loc.key !== keys.tensor(jobId, name)) throw new QueueRecordError(`${label}: tensors.${name} points at a key that is not this job's ${name}`);
  }
  checkPlan(desc, label);
  if (desc.products && (extensions.length > 0 || desc.batches.length !== 1 || desc.tensors.vectors || desc.subsampling || desc.output.dir)) {
    throw new QueueRecordError(`${label}: a products session has no quantities, vectors, subsampling or output directory, and one batch`);
  }
  checkSubsamplingInBatches(desc.subsampling, desc.batches);
  checkShardable(extensions, desc.batches);
  const skipped = checkSkipped(spec, extensions, desc.skipped, label);
  return { desc, spec, extensions, ...(skipped ? { skipped } : {}) };
}

/** Reads and checks a job's descriptor (QueueDataError when it is gone: expired, or never written). */
export async function readDescriptor(ctx: QueueContext, jobId: string): Promise<CheckedDescriptor> {
  const raw = await readJsonRecord(ctx.redis, ctx.keys.desc(jobId), z.unknown(), `job ${jobId}: descriptor`);
  if (raw === undefined) throw new QueueDataError(`job ${jobId}: its descriptor is gone from Redis (expired TTL, or the job was removed)`);
  return checkDescriptor(raw, jobId, ctx.keys);
}
