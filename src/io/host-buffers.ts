/**
 * Host arrays reused across runs, per thread. A fresh page costs ~10 µs per 4 KiB on our VMs, so a
 * loop over batches that allocated its sums and results anew each time spent more time faulting
 * pages in than computing (2c2d KFAC: ~150 MB of float64 sums and float32 results per run). Code
 * that made a buffer with `takeFloat64`/`takeFloat32` and knows that nothing reads it any more gives
 * it back with `recycle` (through `releaseHostData` for results); anything else is ignored there.
 * Contents of a taken buffer are undefined: callers overwrite every element (or fill it first).
 */

import os from 'node:os';

/** Below this, V8's own allocator is as fast as a pool (and small arrays are not worth tracking). */
const MIN_LENGTH = 1 << 14;
/**
 * What the free lists may hold per thread: a quarter of physical memory (at least 1 GiB), as the
 * native device's cache keeps. A fixed 1 GiB could not hold one merged result of BatchGrad on 2c2d
 * (1.67 GB of per-sample rows): with 2 workers every run faulted ~600 000 fresh pages, 12 s a run
 * instead of 0.5 (docs/decisions.md). Past it, the buffers freed longest ago are dropped first, so
 * sizes a loop no longer uses do not hold the pool.
 */
const DEFAULT_MAX_FREE_BYTES = Math.max(1 << 30, Math.floor(os.totalmem() / 4));
let maxFreeBytes = DEFAULT_MAX_FREE_BYTES;

/** Sets what this thread's free lists may hold (tests; none: the default above), dropping the oldest past it. */
export function setFreeLimit(bytes = DEFAULT_MAX_FREE_BYTES): void {
  maxFreeBytes = bytes;
  makeRoom(0);
}

export type Pooled = Float64Array | Float32Array;

const free = new Map<string, Pooled[]>();
const ours = new WeakSet<Pooled>();
const isFree = new WeakSet<Pooled>();
/** The free arrays in the order they were given back (a Set iterates in insertion order). */
const freedOrder = new Set<Pooled>();
let freeBytes = 0;

const keyOf = (kind: 'f64' | 'f32', length: number) => `${kind}:${length}`;

/** A free array of this kind and length out of the free lists, or undefined. */
function popFree(kind: 'f64' | 'f32', length: number): Pooled | undefined {
  const reused = free.get(keyOf(kind, length))?.pop();
  if (!reused) return undefined;
  isFree.delete(reused);
  freedOrder.delete(reused);
  freeBytes -= reused.byteLength;
  return reused;
}

/** Drops the arrays freed longest ago (to the garbage collector) until `bytes` more fit. */
function makeRoom(bytes: number): void {
  for (const old of freedOrder) {
    if (freeBytes + bytes <= maxFreeBytes) return;
    const list = free.get(keyOf(old instanceof Float64Array ? 'f64' : 'f32', old.length))!;
    list.splice(list.indexOf(old), 1);
    isFree.delete(old);
    freedOrder.delete(old);
    freeBytes -= old.byteLength;
  }
}

function take<T extends Pooled>(kind: 'f64' | 'f32', length: number, make: (n: number) => T): T {
  if (length < MIN_LENGTH) return make(length);
  const reused = popFree(kind, length) as T | undefined;
  if (reused) return reused;
  const made = make(length);
  ours.add(made);
  return made;
}

export const takeFloat64 = (length: number): Float64Array => take('f64', length, (n) => new Float64Array(n));
export const takeFloat32 = (length: number): Float32Array => take('f32', length, (n) => new Float32Array(n));

/** Whether the view is a whole, plain ArrayBuffer: one that can move between threads without harm. */
export function coversWholeBuffer(a: ArrayBufferView): boolean {
  return a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
}

/**
 * Takes an array that arrived from another thread (its buffer transferred, so this thread owns it
 * outright) into this thread's pool: `recycle` accepts it from then on. Only whole, plain
 * ArrayBuffers qualify — never shared memory or a view into a larger buffer someone else may use.
 */
export function adoptBuffer(data: Pooled): void {
  if (data.length < MIN_LENGTH || !coversWholeBuffer(data)) return;
  ours.add(data);
  poolCounters.adopted++;
}

/** This thread's traffic of arrays between threads (diagnostics and tests). */
export const poolCounters = { adopted: 0, sent: 0 };

/** What kind and size of array a thread will want: see takeSpares. */
export interface BufferWant {
  kind: 'f64' | 'f32';
  length: number;
}

export const wantOf = (a: Pooled): BufferWant => ({ kind: a instanceof Float64Array ? 'f64' : 'f32', length: a.length });

/**
 * Free arrays of the wanted kinds and lengths, taken out of this thread's pool (as many as it has;
 * none is made): to send to another thread that will need them (transferred with the message).
 */
export function takeSpares(wants: readonly BufferWant[]): Pooled[] {
  const out: Pooled[] = [];
  for (const { kind, length } of wants) {
    const reused = popFree(kind, length);
    if (!reused) continue;
    ours.delete(reused); // it leaves this thread
    out.push(reused);
    poolCounters.sent++;
  }
  return out;
}

/** Gives a buffer from `take*` back (no-op for any other array, a detached one, or one given twice). */
export function recycle(data: ArrayBufferView): void {
  if (!(data instanceof Float64Array || data instanceof Float32Array)) return;
  if (!ours.has(data) || isFree.has(data) || data.byteLength === 0) return;
  if (data.byteLength > maxFreeBytes) return;
  makeRoom(data.byteLength);
  const key = keyOf(data instanceof Float64Array ? 'f64' : 'f32', data.length);
  const list = free.get(key) ?? [];
  free.set(key, list);
  list.push(data);
  isFree.add(data);
  freedOrder.add(data);
  freeBytes += data.byteLength;
}
