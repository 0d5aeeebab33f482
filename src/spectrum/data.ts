/**
 * The samples a curvature spectrum is taken over, as consecutive batches with global offsets: the
 * whole set is one batch of N for ρ (mean reduction: ρ = 1/N over all samples), and batches only
 * bound what is held at once. The shard plan (batches cut into shards of `shardSize`) depends on
 * N, batchSize and shardSize only, never on the number of workers: that is what makes results
 * bitwise independent of how many workers compute them.
 */
import { planShards } from '../core/backprop.ts';
import { sliceRows } from '../core/inputs.ts';
import type { Dataset } from '../data/dataset.ts';
import { ShapeError, UsageError } from '../errors/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import type { ShardSpec } from '../core/partials.ts';
import { DEFAULT_BATCH_SIZE } from './defaults.ts';

export interface DataBatch {
  inputs: HostTensor;
  targets: HostTensor;
  /** Global index of the batch's first sample. */
  offset: number;
}

export interface SpectrumData {
  /** Samples in all (ρ's N). */
  N: number;
  /** Rows read (and placed for the workers) at a time. */
  batchSize: number;
  /** One pass over the samples, in order; may be called once per product. */
  batches(): AsyncIterable<DataBatch>;
}

/** Samples per batch when none is given: large enough for few jobs, small enough to hold. */
export { DEFAULT_BATCH_SIZE } from './defaults.ts';

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`batchSize must be a positive integer, got ${batchSize}`);
}

/** Samples held in memory (a `run`-style inputs/targets pair). */
export function tensorData(inputs: HostTensor, targets: HostTensor, batchSize = DEFAULT_BATCH_SIZE): SpectrumData {
  checkBatchSize(batchSize);
  const N = inputs.shape[0];
  if (targets.shape[0] !== N) throw new ShapeError(`inputs have ${N} samples but targets have ${targets.shape[0]}`);
  if (N < 1) throw new UsageError('the data set is empty');
  return {
    N,
    batchSize,
    async *batches() {
      for (let offset = 0; offset < N; offset += batchSize) {
        const count = Math.min(batchSize, N - offset);
        yield { inputs: sliceRows(inputs, offset, count), targets: sliceRows(targets, offset, count), offset };
      }
    },
  };
}

/** A data set read from its files batch by batch (rows in file order), optionally only its first `maxSamples` rows. */
export function datasetData(ds: Dataset, batchSize = DEFAULT_BATCH_SIZE, maxSamples?: number): SpectrumData {
  checkBatchSize(batchSize);
  if (maxSamples !== undefined && (!Number.isInteger(maxSamples) || maxSamples < 1)) throw new UsageError(`maxSamples must be a positive integer, got ${maxSamples}`);
  const N = Math.min(ds.size, maxSamples ?? ds.size);
  if (N < 1) throw new UsageError(`data set '${ds.name}' is empty`);
  return {
    N,
    batchSize,
    async *batches() {
      let offset = 0;
      for await (const b of ds.batches({ batchSize })) {
        if (offset >= N) break;
        const count = Math.min(b.indices.length, N - offset);
        yield { inputs: sliceRows(b.inputs, 0, count), targets: sliceRows(b.targets, 0, count), offset };
        offset += count;
      }
    },
  };
}

/** Every sample in memory as one inputs and one targets tensor (e.g. to upload to a queue). */
export async function holdAll(data: SpectrumData): Promise<{ inputs: HostTensor; targets: HostTensor }> {
  const parts: DataBatch[] = [];
  for await (const b of data.batches()) parts.push(b);
  const join = (pick: (b: DataBatch) => HostTensor): HostTensor => {
    const first = pick(parts[0]);
    if (parts.length === 1) return first;
    const total = parts.reduce((a, b) => a + pick(b).data.length, 0);
    const Ctor = first.data.constructor as new (n: number) => HostTensor['data'];
    const out = new Ctor(total);
    let at = 0;
    for (const b of parts) {
      (out as Float32Array).set(pick(b).data as Float32Array, at);
      at += pick(b).data.length;
    }
    return { dtype: first.dtype, shape: [data.N, ...first.shape.slice(1)], data: out };
  };
  return { inputs: join((b) => b.inputs), targets: join((b) => b.targets) };
}

/** Shards of one batch at global offsets, numbered on from `firstShardId`. */
export function batchShards(b: DataBatch, shardSize: number, firstShardId: number): ShardSpec[] {
  return planShards(b.inputs.shape[0], shardSize).map((s, i) => ({ shardId: firstShardId + i, offset: b.offset + s.offset, count: s.count }));
}
