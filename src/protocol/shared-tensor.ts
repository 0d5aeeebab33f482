/**
 * Tensors that cross thread boundaries without copying: the data lives in a SharedArrayBuffer and
 * only the handle is structured-cloned. Between processes the same descriptor points into a file
 * in /dev/shm instead (see shm-transport.ts).
 */
import { numel, type HostData, type HostDType, type HostTensor } from '../io/host-tensor.ts';

export interface SharedTensor {
  kind: 'shared';
  dtype: HostDType;
  shape: number[];
  buffer: SharedArrayBuffer;
  /** Element offset into the buffer (a window, e.g. one shard's rows). */
  offset: number;
}

/** The process-pool form: raw little-endian data in a file (in /dev/shm where it exists). */
export interface FileTensor {
  kind: 'file';
  dtype: HostDType;
  shape: number[];
  path: string;
  /** Element offset into the file. */
  offset: number;
}

export type TensorRef = SharedTensor | FileTensor;

const CTORS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array } as const;

export function bytesPerElement(dtype: HostDType): number {
  return CTORS[dtype].BYTES_PER_ELEMENT;
}

/** Copies a host tensor into shared memory once (the coordinator does this per job). */
export function toShared(t: HostTensor): SharedTensor {
  const buffer = new SharedArrayBuffer(numel(t.shape) * bytesPerElement(t.dtype));
  const view = new CTORS[t.dtype](buffer as unknown as ArrayBuffer) as HostData;
  (view as Float32Array).set(t.data as Float32Array);
  return { kind: 'shared', dtype: t.dtype, shape: t.shape, buffer, offset: 0 };
}

/** A zero-copy view of a shared tensor as a host tensor. */
export function fromShared(s: SharedTensor): HostTensor {
  const data = new CTORS[s.dtype](s.buffer as unknown as ArrayBuffer, s.offset * bytesPerElement(s.dtype), numel(s.shape)) as HostData;
  return { dtype: s.dtype, shape: s.shape, data };
}

/** Rows [start, start+count) of a tensor reference, still zero-copy. */
export function rowsOf<T extends TensorRef>(s: T, start: number, count: number): T {
  const per = numel(s.shape.slice(1));
  return { ...s, shape: [count, ...s.shape.slice(1)], offset: s.offset + start * per };
}
