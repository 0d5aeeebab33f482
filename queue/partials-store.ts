/**
 * A queue shard's merged partials (src/reduce/merge.ts) in Redis, under a key derived from
 * (job id, batch, shard): a JSON header with the entry layout, the binary arrays as chunks. The
 * header is written with NX, so a shard delivered twice (a stalled job that ran again) is stored,
 * and therefore counted, once.
 */
import type { Redis } from 'ioredis';
import { BackpackError, ErrorCode } from '../src/errors/index.ts';
import type { MergedPartials } from '../src/reduce/merge.ts';
import type { PartialEntry, ShardPartials } from '../src/reduce/partials.ts';
import { getArrays, putArrays, type PutOptions, type StoredArray } from './tensor-store.ts';

/** What a shard job returns to its parent (small JSON; the partials themselves stay in Redis). */
export interface ShardReturn {
  batch: number;
  shard: number;
  offset: number;
  count: number;
  loss: number;
}

type EntryLayout =
  | { key: string; kind: 'sum'; shape: number[] }
  | { key: string; kind: 'moments'; shape: number[]; count: number }
  | { key: string; kind: 'rows'; rowShape: number[] };

interface PartialsMeta extends ShardReturn {
  paramNames: string[];
  reduction: 'mean' | 'sum';
  entries: EntryLayout[];
}

export interface StoredPartials {
  shard: ShardPartials;
  paramNames: string[];
  reduction: 'mean' | 'sum';
}

/** Stores a shard's partials; false when this shard was already stored (the first delivery counts). */
export function storePartials(
  redis: Redis, key: string, info: ShardReturn, merged: MergedPartials,
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

export async function loadPartials(redis: Redis, key: string): Promise<StoredPartials | null> {
  const blob = await getArrays<PartialsMeta>(redis, key);
  if (!blob) return null;
  const { meta, arrays } = blob;
  const entries: Record<string, PartialEntry> = {};
  let i = 0;
  for (const e of meta.entries) {
    if (e.kind === 'sum') entries[e.key] = { kind: 'sum', shape: e.shape, data: arrays[i++] as Float64Array };
    else if (e.kind === 'moments') entries[e.key] = { kind: 'moments', shape: e.shape, count: e.count, data: arrays[i++] as Float64Array };
    else entries[e.key] = { kind: 'rows', rowShape: e.rowShape, index: arrays[i++] as Int32Array, data: arrays[i++] as Float32Array };
  }
  return {
    shard: { shardId: meta.shard, offset: meta.offset, count: meta.count, loss: meta.loss, entries },
    paramNames: meta.paramNames,
    reduction: meta.reduction,
  };
}
