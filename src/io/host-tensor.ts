/** A tensor held on the host (outside tfjs): what files are read into and written from. */
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
 * cache at once instead of after the next GC. A no-op for ordinary arrays (and without a lender).
 */
let releaser: ((data: ArrayBufferView) => void) | null = null;

export function setHostDataReleaser(f: (data: ArrayBufferView) => void): void {
  releaser = f;
}

export function releaseHostData(data: ArrayBufferView): void {
  releaser?.(data);
}
