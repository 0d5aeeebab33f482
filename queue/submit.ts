/**
 * `backpack-ts submit`: validates a job completely before writing anything (schema, extensions,
 * model, the quantities each layer's record gives (refused, or listed with skipUnsupported),
 * weights against the model, tensor shapes, payload size, KFRA), uploads its tensors if
 * asked, stores its descriptor, and enqueues it as a BullMQ flow: one child job per shard, a
 * parent that reduces when all children are done (per-batch jobs: a 'reduce' parent per batch
 * under one 'collect' root). Any failure before the flow exists removes what was written.
 *
 * The descriptor passes checkDescriptor (descriptor.ts) before it is written: the same function
 * every worker runs on it when it reads it back, so what submit accepts a worker accepts.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { FlowJobNode, FlowJob } from 'bullmq';
import { checkVectors } from '../src/api/vectors.ts';
import { useBackend } from '../src/backends/select.ts';
import { planShards } from '../src/core/backprop.ts';
import { tf } from '../src/core/tf.ts';
import { PayloadTooLargeError } from '../src/errors/queue-errors.ts';
import { parseExtensionList } from '../src/extensions/index.ts';
import { describeSkipped, skippedPairs, type Unsupported } from '../src/extensions/support.ts';
import { formatBytes } from '../src/coordinator/memory-plan.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { readTensorFile, readTensorInfo, readTensorMap, readTensorMapInfo } from '../src/io/tensor-file.ts';
import { requireJobRunnable } from '../src/nn/memory-budget.ts';
import type { ModelSpec } from '../src/nn/spec.ts';
import type { ExtensionName } from '../src/vocabulary.ts';
import { checkNoExtraWeights } from '../src/nn/extra-weights.ts';
import { buildNetwork, disposeNetwork } from '../src/nn/network.ts';
import { parseModelSpec, readModelSpec } from '../src/nn/parse-spec.ts';
import { log } from '../src/log.ts';
import type { QueueContext } from './context.ts';
import { checkDescriptor, type BatchPlan, type JobDescriptor, type TensorLocation } from './descriptor.ts';
import { checkPlan, checkSampleShapes, checkShardable, checkSubsamplingInBatches } from './job-checks.ts';
import { deleteWholeJob } from './job-data.ts';
import { newJobId } from './job-id.ts';
import type { JobFile, QueueJobData } from './job-schema.ts';
import { batchJobId, shardJobId } from './keys.ts';
import { DEFAULT_MAX_UPLOAD } from './limits.ts';
import { blobBytes, putTensors } from './tensor-store.ts';

export const DEFAULT_SHARD_SIZE = 512;

export interface SubmitOptions {
  /** Overrides the job file's priority. */
  priority?: number;
  /** Largest total of uploaded tensors (bytes); default 2 GiB. */
  maxUploadBytes?: number;
  /** Bytes per Redis chunk key (≤ 128 MiB); default 64 MiB. */
  chunkBytes?: number;
  /** Keep results in Redis whatever the job file says (`submit --wait --out DIR`). */
  resultsInRedis?: boolean;
  /** Memory budget of the workers (bytes; default: half this machine's memory): a job that cannot fit is refused. */
  maxMemoryBytes?: number;
  /** Warn on stderr about each (layer, quantity) pair a skipUnsupported job leaves out (default true; a sweep warns once itself). */
  warnSkipped?: boolean;
  /** Test hook: runs after each uploaded tensor (to fail an upload midway). */
  afterUpload?: (name: string) => Promise<void>;
}

export interface Submitted {
  jobId: string;
  N: number;
  batches: number;
  shards: number;
  uploadedBytes: number;
}

interface Loaded {
  spec: unknown;
  extensions: ReturnType<typeof parseExtensionList>;
  /** Pairs left out with options.skipUnsupported (the job is refused without it when there are any). */
  skipped: Unsupported[];
  tensors: Map<string, HostTensor | Map<string, HostTensor>>;
  N: number;
}

/** Reads and checks everything a worker would check before its first shard, except the values. */
async function load(job: JobFile, label: string, maxMemoryBytes?: number, warnSkipped = true): Promise<Loaded> {
  const extensions = parseExtensionList(job.extensions);
  const spec = typeof job.model === 'string' ? await readModelSpec(job.model) : parseModelSpec(job.model, `${label}: model`);
  // A quantity a layer's record cannot give is refused here, before any tensor is read, or listed.
  const skipped = skippedPairs(spec, extensions, job.options.skipUnsupported);
  if (warnSkipped) for (const s of skipped) log.warn(`${label}: ${describeSkipped(s)}`);
  // Sizes from the spec and the tensor headers, before any tensor is read (nn/size-estimate.ts).
  await requireQueueJobFits(spec, job, extensions, maxMemoryBytes);
  const weights = await readTensorMap(job.weights);
  const inputs = await readTensorFile(job.inputs);
  const targets = await readTensorFile(job.targets);
  // Only for validation (shapes, weights): keep this process's backend if it has one; the job's
  // own backend is the workers' business.
  if (!tf.getBackend()) await useBackend('wasm');
  const net = buildNetwork(spec, weights);
  try {
    // After buildNetwork: a missing or misshapen parameter is the likelier mistake, and named first.
    checkNoExtraWeights(spec, weights.keys(), job.weights, job.options.allowExtraWeights, 'options.allowExtraWeights');
    const tensors = new Map<string, HostTensor | Map<string, HostTensor>>([['weights', weights], ['inputs', inputs], ['targets', targets]]);
    const N = checkSampleShapes(net.inputShape, inputs, targets, { inputs: job.inputs, targets: job.targets });
    if (job.vectors) tensors.set('vectors', checkVectors(await readTensorMap(job.vectors), net.paramShapes, job.vectors));
    return { spec: typeof job.model === 'string' ? spec : job.model, extensions, skipped, tensors, N };
  } finally {
    disposeNetwork(net);
  }
}

/** One sample of a shard, and the outputs of one result, must fit a worker's memory budget. */
async function requireQueueJobFits(spec: ModelSpec, job: JobFile, extensions: ExtensionName[], maxMemory?: number): Promise<void> {
  const [inputs, targets] = [await readTensorInfo(job.inputs), await readTensorInfo(job.targets)];
  const vectors = job.vectors ? (await readTensorMapInfo(job.vectors)).values().next().value?.shape[0] : undefined;
  const N = inputs.shape[0] ?? 0;
  const o = job.options;
  requireJobRunnable(spec, {
    extensions, N: o.batchSize && !o.accumulate ? Math.min(o.batchSize, N) : N, mcSamples: o.mcSamples, vectors,
    rows: o.subsampling?.length, backend: o.backend, maxMemory,
  }, [{ what: 'inputs', bytes: inputs.bytes }, { what: 'targets', bytes: targets.bytes }]);
}

/** Mini-batches (or the whole dataset) and their queue shards. */
export function planBatches(N: number, o: JobFile['options']): BatchPlan[] {
  const batchSize = o.batchSize && !o.accumulate ? o.batchSize : N;
  const shardSize = o.shardSize ?? (o.accumulate && o.batchSize ? o.batchSize : DEFAULT_SHARD_SIZE);
  const batches: BatchPlan[] = [];
  for (let start = 0, b = 0; start < N; start += batchSize, b++) {
    const n = Math.min(batchSize, N - start);
    batches.push({ batch: b, start, N: n, shards: planShards(n, shardSize) });
  }
  return batches;
}

/**
 * A path without symlinks, as workers require (path-policy.ts): the real path of the longest part
 * that exists, then the rest as written (an output directory need not exist yet).
 */
async function canonicalPath(p: string): Promise<string> {
  const rest: string[] = [];
  for (let at = p; ; at = path.dirname(at)) {
    try {
      return path.join(await realpath(at), ...rest.reverse());
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || path.dirname(at) === at) throw e;
      rest.push(path.basename(at));
    }
  }
}

export async function submitJob(ctx: QueueContext, job: JobFile, opts: SubmitOptions = {}, label = 'job'): Promise<Submitted> {
  const loaded = await load(job, label, opts.maxMemoryBytes, opts.warnSkipped);
  const batches = planBatches(loaded.N, job.options);
  checkSubsamplingInBatches(job.options.subsampling, batches);
  checkShardable(loaded.extensions, batches);
  checkPlan({ N: loaded.N, batchSize: job.options.batchSize, accumulate: job.options.accumulate, batches }, label);
  const jobId = newJobId();
  const { keys, redis } = ctx;
  const ttl = job.ttlSeconds;
  const upload = job.tensors === 'upload';
  const sizes = [...loaded.tensors].map(([name, t]) => [name, blobBytes(t instanceof Map ? [...t.values()].map((x) => x.data) : [t.data])] as const);
  const uploadedBytes = upload ? sizes.reduce((s, [, b]) => s + b, 0) : 0;
  const limit = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD;
  if (uploadedBytes > limit) {
    throw new PayloadTooLargeError(
      `${label} would upload ${formatBytes(uploadedBytes)} of tensors into Redis (${sizes.map(([n, b]) => `${n} ${formatBytes(b)}`).join(', ')}); ` +
      `the limit is ${formatBytes(limit)} (--max-upload). Nothing was written. Raise --max-upload, or put the tensors on storage every worker can read and set "tensors": "paths".`,
    );
  }
  const priority = opts.priority ?? job.priority;
  const output = { dir: job.output.dir ? await canonicalPath(job.output.dir) : undefined, redis: opts.resultsInRedis || (job.output.redis ?? !job.output.dir) };
  const locations: Record<string, TensorLocation> = {};
  const source = { weights: job.weights, inputs: job.inputs, targets: job.targets, vectors: job.vectors };
  for (const name of loaded.tensors.keys()) {
    locations[name] = upload ? { kind: 'redis', key: keys.tensor(jobId, name) } : { kind: 'path', path: await canonicalPath(source[name as keyof typeof source]!) };
  }
  const desc: JobDescriptor = {
    v: 1, jobId, name: job.name, createdAt: Date.now(), spec: loaded.spec, extensions: loaded.extensions,
    backend: job.options.backend, seed: job.options.seed, mcSamples: job.options.mcSamples, subsampling: job.options.subsampling,
    tensors: locations as JobDescriptor['tensors'], N: loaded.N, batchSize: job.options.batchSize, accumulate: job.options.accumulate,
    ...(job.options.allowExtraWeights ? { allowExtraWeights: true } : {}),
    ...(job.options.skipUnsupported ? { skipped: loaded.skipped.map(({ layer, quantity }) => ({ layer, quantity })) } : {}),
    batches, output, ttlSeconds: ttl, priority,
  };
  // What the workers will check, checked here first (the JSON round trip is what they will read).
  checkDescriptor(JSON.parse(JSON.stringify(desc)), jobId, keys);
  try {
    if (upload) {
      for (const [name, t] of loaded.tensors) {
        await putTensors(redis, keys.tensor(jobId, name), t instanceof Map ? t : new Map([[name, t]]), { ttlSeconds: ttl, chunkBytes: opts.chunkBytes, registry: keys.blobs(jobId) });
        await opts.afterUpload?.(name);
      }
    }
    const shards = batches.reduce((s, b) => s + b.shards.length, 0);
    await redis.set(keys.desc(jobId), JSON.stringify(desc), 'EX', ttl);
    await redis.multi()
      .hset(keys.meta(jobId), {
        jobId, name: job.name ?? '', createdAt: desc.createdAt, N: loaded.N, batches: batches.length, shardsTotal: shards,
        shardsDone: 0, samplesDone: 0, priority: priority ?? 0, outputDir: output.dir ?? '', outputRedis: output.redis ? 1 : 0,
      })
      .expire(keys.meta(jobId), ttl)
      .exec();
    await ctx.flow.add(flowOf(ctx, desc));
    await redis.zadd(keys.jobs(), desc.createdAt, jobId);
    return { jobId, N: loaded.N, batches: batches.length, shards, uploadedBytes };
  } catch (e) {
    // Never half-written: nothing of this job stays behind (the flow is added atomically, last).
    await deleteWholeJob(ctx, jobId).catch((cleanup: unknown) => log.warn(`job ${jobId}: could not remove what was written: ${(cleanup as Error).message}`));
    if (e instanceof Error && /\bOOM\b/.test(e.message)) {
      throw new PayloadTooLargeError(`Redis refused the upload of ${label} (${e.message}); nothing of the job was kept. Free memory in Redis, raise its maxmemory, or use "tensors": "paths".`);
    }
    throw e;
  }
}

/** The BullMQ flow of a job: shards under a 'reduce' parent (under a 'collect' root with several batches). */
export function flowOf(ctx: QueueContext, d: JobDescriptor): FlowJob {
  const queueName = ctx.settings.queue;
  const common = {
    ...(d.priority ? { priority: d.priority } : {}),
    removeOnComplete: { age: d.ttlSeconds },
    removeOnFail: { age: d.ttlSeconds },
  };
  const node = (data: QueueJobData, jobId: string, children?: FlowJobNode[], child = true) => ({
    name: data.kind, queueName, data, children,
    opts: { ...common, jobId, attempts: data.kind === 'shard' ? 3 : 2, backoff: { type: 'exponential', delay: 1000 }, ...(child ? { failParentOnFailure: true } : {}) },
  });
  const shardsOf = (b: BatchPlan) => b.shards.map((s, i) =>
    node({ kind: 'shard', jobId: d.jobId, batch: b.batch, shard: i, offset: s.offset, count: s.count }, shardJobId(d.jobId, b.batch, i)));
  if (d.batches.length === 1) return node({ kind: 'reduce', jobId: d.jobId, batch: 0, root: true, name: d.name }, d.jobId, shardsOf(d.batches[0]), false) as FlowJob;
  const batchNodes = d.batches.map((b) => node({ kind: 'reduce', jobId: d.jobId, batch: b.batch, root: false }, batchJobId(d.jobId, b.batch), shardsOf(b)));
  return node({ kind: 'collect', jobId: d.jobId, name: d.name }, d.jobId, batchNodes as FlowJobNode[], false) as FlowJob;
}
