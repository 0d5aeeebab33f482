/** Turns tensor references from a task into host tensors: shared memory views, or file reads. */
import { closeSync, openSync, readSync } from 'node:fs';
import { numel, type HostData, type HostTensor } from '../io/host-tensor.ts';
import { bytesPerElement, fromShared, type TensorRef } from '../protocol/shared-tensor.ts';

const CTORS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array } as const;

function readFileTensor(ref: Extract<TensorRef, { kind: 'file' }>): HostTensor {
  const bytes = numel(ref.shape) * bytesPerElement(ref.dtype);
  const buffer = Buffer.alloc(bytes);
  const fd = openSync(ref.path, 'r');
  try {
    let done = 0;
    while (done < bytes) {
      const n = readSync(fd, buffer, done, bytes - done, ref.offset * bytesPerElement(ref.dtype) + done);
      if (n === 0) throw new Error(`${ref.path}: short read (${done} of ${bytes} bytes)`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  const data = new CTORS[ref.dtype](buffer.buffer, buffer.byteOffset, numel(ref.shape)) as HostData;
  return { dtype: ref.dtype, shape: ref.shape, data };
}

export function resolveTensor(ref: TensorRef): HostTensor {
  return ref.kind === 'shared' ? fromShared(ref) : readFileTensor(ref);
}

export function resolveMap(refs: Record<string, TensorRef>): Map<string, HostTensor> {
  return new Map(Object.entries(refs).map(([k, v]) => [k, resolveTensor(v)]));
}
