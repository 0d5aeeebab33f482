/**
 * A queue shard's merged partials (src/reduce/merge.ts) in Redis, under a key derived from
 * (job id, batch, shard): a JSON header with the entry layout, the binary arrays as chunks. The
 * header is written with NX, so a shard delivered twice (a stalled job that ran again) is stored,
 * and therefore counted, once.
 *
 * Read back, a header is checked against what the reducer expects of that shard (its batch,
 * index, offset and count in the job's plan) and against its own arrays (one float64 array of the
 * entry's size per sum, an int32 index of rows inside the shard plus their float32 data per rows
 * entry) before any array is allocated: a record anyone could have written must not steer the merge.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { BackpackError, ErrorCode } from '../src/errors/index.ts';
import { QueueRecordError } from '../src/errors/queue-errors.ts';
import { numel } from '../src/io/host-tensor.ts';
import type { PartialEntry, Partials, ShardPartials } from '../src/core/partials.ts';
import { MAX_SAMPLES } from './job-checks.ts';
import { queueShardSchema, type QueueShard } from './job-schema.ts';
import { parseRecord } from './record.ts';
import { getArrays, getCheckedHeader, MAX_ARRAY_LENGTH, putArrays, type PutOptions, type StoredArray } from './tensor-store.ts';

const dims = z.array(z.number().int().nonnegative().max(MAX_ARRAY_LENGTH)).max(8);

/** What a shard job returns to its parent: the shard and its loss (small JSON; the partials themselves stay in Redis). */
export const shardReturnSchema = queueShardSchema.extend({ loss: z.number() });
export type ShardReturn = z.infer<typeof shardReturnSchema>;

const entryLayoutSchema = z.discriminatedUnion('kind', [
  z.strictObject({ key: z.string().min(1).max(256), kind: z.literal('sum'), shape: dims }),
  z.strictObject({ key: z.string().min(1).max(256), kind: z.literal('moments'), shape: dims, count: z.number().int().positive().max(MAX_SAMPLES) }),
  z.strictObject({ key: z.string().min(1).max(256), kind: z.literal('rows'), rowShape: dims }),
]);
type EntryLayout = z.infer<typeof entryLayoutSchema>;

const partialsMetaSchema = z.strictObject({
  ...shardReturnSchema.shape,
  paramNames: z.array(z.string().min(1).max(256)).max(10_000),
  reduction: z.enum(['mean', 'sum']),
  entries: z.array(entryLayoutSchema).max(100_000),
});
type PartialsMeta = z.infer<typeof partialsMetaSchema>;

/** A shard's partials read back, with what they were computed for (checked against the model and each other). */
export interface StoredPartials {
  shard: ShardPartials;
  paramNames: string[];
  reduction: 'mean' | 'sum';
  /** Entry layout (key, kind, shape), for comparing shards with each other. */
  layout: EntryLayout[];
}

/** Stores a shard's partials; false when this shard was already stored (the first delivery counts). */
export function storePartials(
  redis: Redis, key: string, info: ShardReturn, merged: Partials,
  net: { paramNames: string[]; reduction: 'mean' | 'sum' }, opts: Omit<PutOptions, 'onlyIfAbsent'>,
): Promise<boolean> {
  const entries: EntryLayout[] = [];
  const arrays: StoredArray[] = [];
  for (const [k, e] of Object.entries(merged.entries)) {
    if (e.kind === 'sum') {
      entries.push({ key: k, kind: 'sum', shape: e.shape });
      arrays.push(e.data);
    } else if (e.kind === 'moments') {
      entries.push({ key: k, kind: 'moments', shape: e.shape, count: e.count });
      arrays.push(e.data);
    } else if (e.kind === 'rows') {
      entries.push({ key: k, kind: 'rows', rowShape: e.rowShape });
      arrays.push(e.index, e.data);
    } else {
      throw new BackpackError(ErrorCode.Internal, `partial '${k}' is spilled to a local file and cannot be sent through the queue`, false);
    }
  }
  const meta: PartialsMeta = { ...info, loss: merged.loss, paramNames: net.paramNames, reduction: net.reduction, entries };
  return putArrays(redis, key, meta, arrays, { ...opts, onlyIfAbsent: true });
}

/** The header's meta checked against the expected shard and against its arrays (sizes and dtypes). */
function checkMeta(key: string, want: QueueShard) {
  return (raw: unknown, arrays: readonly { dtype: string; length: number }[]): PartialsMeta => {
    const what = `partials ${key}`;
    const meta = parseRecord(partialsMetaSchema, raw, what);
    const fail = (why: string): never => {
      throw new QueueRecordError(`${what}: ${why}`);
    };
    if (meta.batch !== want.batch || meta.shard !== want.shard || meta.offset !== want.offset || meta.count !== want.count) {
      fail(`they describe batch ${meta.batch} shard ${meta.shard} (samples ${meta.offset}+${meta.count}), the plan has batch ${want.batch} shard ${want.shard} (samples ${want.offset}+${want.count})`);
    }
    const keys = new Set<string>();
    let i = 0;
    const take = (dtype: string, length: number, entry: string) => {
      const a = arrays[i++];
      if (!a || a.dtype !== dtype || a.length !== length) fail(`entry '${entry}' needs ${length} ${dtype} values, its array holds ${a ? `${a.length} ${a.dtype}` : 'nothing'}`);
    };
    for (const e of meta.entries) {
      if (keys.has(e.key)) fail(`entry '${e.key}' appears twice`);
      keys.add(e.key);
      if (e.kind === 'sum') take('float64', numel(e.shape), e.key);
      else if (e.kind === 'moments') {
        // Mean and centred second moment, over at most the shard's samples.
        if (e.count > want.count) fail(`entry '${e.key}' summarises ${e.count} samples, more than the shard's ${want.count}`);
        take('float64', 2 * numel(e.shape), e.key);
      } else {
        const rows = arrays[i]?.length ?? 0;
        if (rows > want.count) fail(`entry '${e.key}' has ${rows} rows, more than the shard's ${want.count} samples`);
        take('int32', rows, e.key);
        take('float32', rows * numel(e.rowShape), e.key);
      }
    }
    if (i !== arrays.length) fail(`${arrays.length} arrays for ${i} entry arrays`);
    return meta;
  };
}

/** The stored shard's header (checked), without its arrays: what a redelivered shard reports. */
export async function storedShard(redis: Redis, key: string, want: QueueShard): Promise<ShardReturn | null> {
  const h = await getCheckedHeader(redis, key, checkMeta(key, want));
  if (!h) return null;
  const { batch, shard, offset, count, loss } = h.meta;
  return { batch, shard, offset, count, loss };
}

/** A shard's partials, checked; null when absent. Row indices must lie in the shard, in increasing order. */
export async function loadPartials(redis: Redis, key: string, want: QueueShard): Promise<StoredPartials | null> {
  const blob = await getArrays(redis, key, checkMeta(key, want));
  if (!blob) return null;
  const { meta, arrays } = blob;
  const entries: Record<string, PartialEntry> = {};
  let i = 0;
  for (const e of meta.entries) {
    if (e.kind === 'sum') entries[e.key] = { kind: 'sum', shape: e.shape, data: arrays[i++] as Float64Array };
    else if (e.kind === 'moments') entries[e.key] = { kind: 'moments', shape: e.shape, count: e.count, data: arrays[i++] as Float64Array };
    else {
      const rowIndex = arrays[i++] as Int32Array;
      for (let r = 0; r < rowIndex.length; r++) {
        const s = rowIndex[r];
        if (s < want.offset || s >= want.offset + want.count || (r > 0 && s <= rowIndex[r - 1])) {
          throw new QueueRecordError(`partials ${key}: entry '${e.key}' row ${r} names sample ${s}, outside the shard's samples ${want.offset}..${want.offset + want.count - 1} or out of order`);
        }
      }
      entries[e.key] = { kind: 'rows', rowShape: e.rowShape, index: rowIndex, data: arrays[i++] as Float32Array };
    }
  }
  return {
    shard: { shardId: meta.shard, offset: meta.offset, count: meta.count, loss: meta.loss, entries },
    paramNames: meta.paramNames,
    reduction: meta.reduction,
    layout: meta.entries,
  };
}
