/** A tensor held on the host (outside tfjs): what files are read into and written from. */
import { recycle, takeFloat32 } from './host-buffers.ts';

export type HostDType = 'float32' | 'float64' | 'int32' | 'int64';

export type HostData = Float32Array | Float64Array | Int32Array | BigInt64Array;

export interface HostTensor {
  dtype: HostDType;
  shape: number[];
  data: HostData;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Converts any host tensor's data to float64 numbers (int64 via Number, exact below 2^53). */
export function toFloat64(t: HostTensor): Float64Array {
  if (t.data instanceof Float64Array) return t.data;
  if (t.data instanceof BigInt64Array) return Float64Array.from(t.data, (v) => Number(v));
  return new Float64Array(t.data as Float32Array | Int32Array);
}

/**
 * Hands host data back to whoever lent it, when its consumer is done with it: the native backend
 * reads large tensors as views over its own memory, and a view returned here goes back to its
 * cache at once instead of after the next GC; an array from host-buffers.ts goes back to its pool.
 * A no-op for ordinary arrays.
 */
export interface HostDataLender {
  /** Whether `data` is one of the lender's views. */
  lent(data: ArrayBufferView): boolean;
  /** Takes a view back (its memory is reused; the array must not be read again); false if it is not one. */
  release(data: ArrayBufferView): boolean;
}

let lender: HostDataLender | null = null;

export function setHostDataLender(l: HostDataLender): void {
  lender = l;
}

export function releaseHostData(data: ArrayBufferView): void {
  if (!lender?.release(data)) recycle(data);
}

/**
 * `data` as an array the caller owns outright: a lent view is copied and given back; anything
 * else is returned as it is. For data that must leave the thread (transferred to another one).
 */
export function ownedHostData<T extends HostData>(data: T): T {
  if (!lender?.lent(data)) return data;
  // Float32 rows (per-sample results) into a pooled array: its pages are reused across shards.
  const copy = (data instanceof Float32Array ? takeFloat32(data.length) : data.slice()) as T;
  if (copy instanceof Float32Array) copy.set(data as Float32Array);
  lender.release(data);
  return copy;
}
