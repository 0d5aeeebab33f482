/**
 * Threads: a reply's partial data is moved to the coordinator (transferred), not copied: each
 * buffer exists once, so a worker's result costs its budget and no more. Only plain ArrayBuffers
 * that a view covers whole are moved; a view into a larger buffer (a backend's heap, a pooled
 * allocation) or shared memory is left to structured clone, so nothing a backend still uses is
 * ever detached.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { coversWholeBuffer } from '../io/host-buffers.ts';
import type { GroupResult, ShardResult, WorkerReply } from '../protocol/messages.ts';

/** The arrays of a reply's sums, moments and rows (what the coordinator merges, and can give back). */
export function replyArrays(value: ShardResult | GroupResult): (Float64Array | Float32Array)[] {
  const out: (Float64Array | Float32Array)[] = [];
  for (const r of value.type === 'partials' ? [value] : value.results) {
    for (const e of Object.values(r.entries)) if (e.kind !== 'spilled') out.push(e.data);
  }
  return out;
}

/** The reply, marked so piscina transfers its partials' buffers. */
export function movable(reply: WorkerReply): ReturnType<typeof move> {
  const buffers = new Set<ArrayBuffer>();
  if (reply.ok) for (const a of replyArrays(reply.value)) if (coversWholeBuffer(a)) buffers.add(a.buffer as ArrayBuffer);
  return move({ [transferableSymbol]: [...buffers], [valueSymbol]: reply });
}
