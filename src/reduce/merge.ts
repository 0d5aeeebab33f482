/**
 * Merges the partials of any number of shards. Shards are combined in shard order (never arrival
 * order) so that a fixed shard plan gives bitwise-identical results however many workers ran it.
 */
import { BackpackError, ErrorCode } from '../errors/index.ts';
import type { PartialEntry, ShardPartials } from './partials.ts';

export interface MergedPartials {
  /** Number of samples covered. */
  count: number;
  loss: number;
  entries: Record<string, PartialEntry>;
}

function mergeEntry(key: string, into: PartialEntry, next: PartialEntry): PartialEntry {
  if (into.kind === 'sum' && next.kind === 'sum') {
    if (into.data.length !== next.data.length) throw new BackpackError(ErrorCode.Internal, `partial '${key}' changed size between shards`, false);
    for (let j = 0; j < next.data.length; j++) into.data[j] += next.data[j];
    return into;
  }
  if (into.kind === 'rows' && next.kind === 'rows') {
    const index = new Int32Array(into.index.length + next.index.length);
    index.set(into.index);
    index.set(next.index, into.index.length);
    const data = new Float32Array(into.data.length + next.data.length);
    data.set(into.data);
    data.set(next.data, into.data.length);
    return { kind: 'rows', rowShape: into.rowShape, index, data };
  }
  if (into.kind === 'spilled' && next.kind === 'spilled') return { ...into, chunks: [...into.chunks, ...next.chunks] };
  throw new BackpackError(ErrorCode.Internal, `partial '${key}' is combined from entries of kinds ${into.kind} and ${next.kind}`, false);
}

const copy = (e: PartialEntry): PartialEntry => {
  if (e.kind === 'sum') return { ...e, data: Float64Array.from(e.data) };
  if (e.kind === 'rows') return { ...e, index: Int32Array.from(e.index), data: Float32Array.from(e.data) };
  return { ...e, chunks: [...e.chunks] };
};

export function mergePartials(shards: readonly ShardPartials[]): MergedPartials {
  const ordered = [...shards].sort((a, b) => a.shardId - b.shardId);
  const seen = new Set<number>();
  const entries: Record<string, PartialEntry> = {};
  let count = 0;
  let loss = 0;
  for (const shard of ordered) {
    // A shard delivered twice (a retry that raced its original) is counted once.
    if (seen.has(shard.shardId)) continue;
    seen.add(shard.shardId);
    count += shard.count;
    loss += shard.loss;
    for (const [key, entry] of Object.entries(shard.entries)) {
      entries[key] = entries[key] ? mergeEntry(key, entries[key], entry) : copy(entry);
    }
  }
  return { count, loss, entries };
}
