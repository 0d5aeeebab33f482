/**
 * A Dataset from a reader's row source and targets: the row order (seeded Fisher–Yates), batch
 * slicing, one batch of read-ahead, normalisation, target gathering.
 * Index letters: n = dataset row, b = position in a batch.
 */
import { TensorFileError, UsageError } from '../../errors/index.ts';
import { numel, type HostTensor } from '../../io/host-tensor.ts';
import type { Batch, BatchOptions, Dataset } from '../dataset.ts';
import { mulberry32 } from '../prng.ts';
import { normalizer, type Normalize } from './normalize.ts';
import { RowReader, totalRows, type RowSource } from './rows.ts';
import type { Targets } from './targets.ts';

/** Dataset row order for one pass: 0…N−1, or its Fisher–Yates shuffle under mulberry32(seed). */
export function rowOrder(size: number, shuffle: boolean, seed: number): Int32Array {
  const order = Int32Array.from({ length: size }, (_, n) => n);
  if (!shuffle) return order;
  const rand = mulberry32(seed);
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

function checkBatchOptions(opts: BatchOptions): void {
  const { batchSize, shuffle, seed, dropLast } = opts ?? ({} as BatchOptions);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new UsageError(`batches: batchSize must be a positive integer, got ${JSON.stringify(batchSize)}`);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new UsageError(`batches: seed must be an integer, got ${JSON.stringify(seed)}`);
  for (const [key, v] of [['shuffle', shuffle], ['dropLast', dropLast]] as const) {
    if (v !== undefined && typeof v !== 'boolean') throw new UsageError(`batches: ${key} must be a boolean, got ${JSON.stringify(v)}`);
  }
}

type Rows<A> = { subarray(begin: number, end: number): A; set(src: A, offset: number): void };

/** Rows `idx` of an in-memory targets tensor [N, …] (int64 or float32, as targets.ts makes them). */
function gather(t: HostTensor, idx: Int32Array): HostTensor {
  const per = numel(t.shape.slice(1));
  const shape = [idx.length, ...t.shape.slice(1)];
  const pick = <A extends Rows<A>>(src: A, out: A): A => {
    for (let b = 0; b < idx.length; b++) out.set(src.subarray(idx[b] * per, (idx[b] + 1) * per), b * per);
    return out;
  };
  if (t.data instanceof BigInt64Array) return { dtype: 'int64', shape, data: pick(t.data, new BigInt64Array(idx.length * per)) };
  return { dtype: 'float32', shape, data: pick(t.data as Float32Array, new Float32Array(idx.length * per)) };
}

/** `label` names the source in messages (its path). */
export function makeDataset(name: string, label: string, inputs: RowSource, targets: Targets, normalize: Normalize | undefined): Dataset {
  const size = totalRows(inputs);
  if (targets.tensor.shape[0] !== size) throw new TensorFileError(`${label}: ${size} input rows but ${targets.tensor.shape[0]} targets`);
  const norm = normalizer(normalize, inputs.rowShape, inputs.stored, label);
  const inputShape = [...inputs.rowShape];

  async function* iterate(order: Int32Array, batchSize: number, count: number): AsyncGenerator<Batch> {
    const reader = await RowReader.open(inputs);
    const load = (k: number) => {
      const indices = order.slice(k * batchSize, Math.min((k + 1) * batchSize, order.length));
      const p = reader.read(indices).then((x) => ({ x, indices }));
      // NOTE: the read-ahead may fail while the consumer is busy with the previous batch; mark it
      // handled here so Node does not report an unhandled rejection. The error still surfaces
      // when the loop awaits this batch.
      p.catch(() => undefined);
      return p;
    };
    let next = count > 0 ? load(0) : undefined;
    try {
      for (let k = 0; k < count; k++) {
        const current = next!;
        next = k + 1 < count ? load(k + 1) : undefined;
        const { x, indices } = await current;
        norm?.(x);
        yield {
          inputs: { dtype: 'float32', shape: [indices.length, ...inputShape], data: x },
          targets: gather(targets.tensor, indices),
          indices,
        };
      }
    } finally {
      // A consumer that stops early leaves the read-ahead in flight: let it settle (its result and
      // any error are no longer wanted) so no read of ours outlives the descriptors it uses.
      if (next) await next.then(() => undefined, () => undefined);
      await reader.close();
    }
  }

  return {
    name,
    size,
    inputShape,
    targetShape: targets.tensor.shape.slice(1),
    classes: targets.classes,
    targetsKind: targets.kind,
    batches(opts) {
      checkBatchOptions(opts);
      const order = rowOrder(size, opts.shuffle ?? false, opts.seed ?? 0);
      const count = opts.dropLast ? Math.floor(size / opts.batchSize) : Math.ceil(size / opts.batchSize);
      return iterate(order, opts.batchSize, count);
    },
  };
}
