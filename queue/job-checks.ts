/**
 * The checks a job passes at `submit` and again in every worker that takes one of its records
 * (anyone who can write to Redis can write a record that skipped submit): the shard plan adds up,
 * KFRA is not split, subsampling indices lie in every batch, tensors fit the model, and the
 * (layer, quantity) pairs a --skip-unsupported job leaves out are exactly those the records refuse. One function
 * per check, called from both places, so the two can never drift apart.
 */
import { checkSubsampling } from '../src/api/run.ts';
import { ShapeError } from '../src/errors/index.ts';
import { NotShardableError, QueueRecordError } from '../src/errors/queue-errors.ts';
import { parametricLayers, skipKey, skippedPairs, unsupportedPairs, type Unsupported } from '../src/extensions/support.ts';
import type { ModelSpec } from '../src/nn/spec.ts';
import type { ExtensionName } from '../src/vocabulary.ts';

/** Samples of a job: sample indices travel as Int32. */
export const MAX_SAMPLES = 2 ** 31 - 1;
/** Shards of a job (each is a BullMQ job; far beyond this a flow cannot be added at all). */
export const MAX_SHARDS = 100_000;

export interface PlanShape {
  N: number;
  batchSize?: number;
  accumulate: boolean;
  batches: { batch: number; start: number; N: number; shards: { offset: number; count: number }[] }[];
}

/**
 * The plan covers the N samples exactly: batches in order from 0, each as large as batchSize says
 * (one batch without it, or with accumulate), each cut into contiguous shards from offset 0.
 */
export function checkPlan(p: PlanShape, label: string): void {
  const fail = (why: string): never => {
    throw new QueueRecordError(`${label}: the shard plan ${why}`);
  };
  if (p.accumulate && !p.batchSize) fail('accumulates without a batchSize');
  const perBatch = p.batchSize && !p.accumulate ? p.batchSize : p.N;
  if (p.batches.length !== Math.ceil(p.N / perBatch)) fail(`has ${p.batches.length} batches where N=${p.N} makes ${Math.ceil(p.N / perBatch)}`);
  let start = 0;
  let shards = 0;
  for (const [i, b] of p.batches.entries()) {
    if (b.batch !== i || b.start !== start || b.N !== Math.min(perBatch, p.N - start)) fail(`batch ${i} is not the expected batch ${i} (samples ${start}..)`);
    let offset = 0;
    for (const [j, s] of b.shards.entries()) {
      if (s.offset !== offset || s.count < 1) fail(`batch ${i} shard ${j} does not start where shard ${j - 1} ended`);
      offset += s.count;
    }
    if (offset !== b.N) fail(`batch ${i}'s shards cover ${offset} samples of its ${b.N}`);
    shards += b.shards.length;
    start += b.N;
  }
  if (shards > MAX_SHARDS) fail(`has ${shards} shards (the limit is ${MAX_SHARDS})`);
}

/** KFRA averages the GGN over the whole batch at every layer: one shard per batch or nothing. */
export function checkShardable(extensions: readonly ExtensionName[], batches: PlanShape['batches']): void {
  if (extensions.includes('KFRA') && batches.some((b) => b.shards.length > 1)) {
    throw new NotShardableError(
      'KFRA cannot be split across queue shards: its backward pass averages the GGN over the whole batch at every layer, ' +
      'so shards are not independent (a worker pool runs it as a per-layer all-reduce, which needs all shards at once). ' +
      'Submit it with options.shardSize ≥ the batch size (one shard per batch), or use `backpack-ts run`.',
    );
  }
}

/** Every subsampling index lies inside every batch. */
export function checkSubsamplingInBatches(subsampling: number[] | undefined, batches: PlanShape['batches']): void {
  for (const b of batches) checkSubsampling(subsampling, b.N);
}

/** Per-sample tensors against the model: inputs [N, *input_shape], targets with N rows. Returns N. */
export function checkSampleShapes(inputShape: readonly number[], inputs: { shape: readonly number[] }, targets: { shape: readonly number[] }, names: { inputs: string; targets: string }): number {
  const per = inputs.shape.slice(1);
  if (inputs.shape.length !== inputShape.length + 1 || per.some((d, i) => d !== inputShape[i])) {
    throw new ShapeError(`${names.inputs}: shape [${inputs.shape.join(', ')}] does not match the model's input_shape [${inputShape.join(', ')}] (expected [N, ${inputShape.join(', ')}])`);
  }
  if (targets.shape[0] !== inputs.shape[0]) throw new ShapeError(`${names.targets}: ${targets.shape[0]} rows, but ${names.inputs} has ${inputs.shape[0]} samples`);
  if (inputs.shape[0] < 1) throw new ShapeError(`${names.inputs}: no samples`);
  if (inputs.shape[0] > MAX_SAMPLES) throw new ShapeError(`${names.inputs}: ${inputs.shape[0]} samples, over the limit of ${MAX_SAMPLES}`);
  return inputs.shape[0];
}

/** A skipped pair as a job record carries it: the layer and the quantity (reasons come from the records, not from Redis). */
export interface SkippedPair {
  layer: string;
  quantity: string;
}

/**
 * The pairs a job leaves out, with their reasons. Without a list (no --skip-unsupported) the first
 * unsupported pair is the typed UnsupportedModuleError `run` gives. With one, the list must name
 * exactly the pairs the module records refuse: a pair naming a layer the model lacks, a quantity
 * the job does not compute, or a pair the records support (its quantity would silently vanish
 * from the results), and a list missing a refused pair (a shard would fail on it), are
 * QueueRecordErrors.
 */
export function checkSkipped(spec: ModelSpec, extensions: readonly ExtensionName[], listed: readonly SkippedPair[] | undefined, label: string): Unsupported[] | undefined {
  if (listed === undefined) {
    skippedPairs(spec, extensions, false);
    return undefined;
  }
  const fail = (why: string): never => {
    throw new QueueRecordError(`${label}: skipped ${why}`);
  };
  const refused = unsupportedPairs(spec, extensions);
  const byKey = new Map(refused.map((u) => [skipKey(u.layer, u.quantity), u]));
  const layers = new Set(parametricLayers(spec));
  const seen = new Set<string>();
  for (const { layer, quantity } of listed) {
    const name = JSON.stringify(layer.slice(0, 80));
    if (!layers.has(layer)) fail(`names layer ${name}, which is not a layer with parameters of the model`);
    if (!(extensions as readonly string[]).includes(quantity)) fail(`names ${JSON.stringify(quantity.slice(0, 64))} for layer ${name}, which is not one of the job's quantities`);
    const key = skipKey(layer, quantity as ExtensionName);
    if (seen.has(key)) fail(`lists ${quantity} for layer ${name} twice`);
    seen.add(key);
    if (!byKey.has(key)) fail(`names ${quantity} for layer ${name}, which its module record supports`);
  }
  const missing = refused.find((u) => !seen.has(skipKey(u.layer, u.quantity)));
  if (missing) fail(`does not list ${missing.quantity} for layer '${missing.layer}' (${missing.module}), which its module record refuses: ${missing.reason}`);
  return refused;
}
