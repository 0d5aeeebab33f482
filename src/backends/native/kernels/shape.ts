/**
 * Shape and data-movement kernels. Reshapes share their input's buffer; everything else that
 * moves data (transpose, slice, concat, pack, tile, pad, reverse, broadcast) is one strided copy
 * on the device per input.
 */
import type { DataType, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../../../core/tf.ts';
import type { NativeBackend } from '../backend.ts';
import { params } from '../params.ts';
import { axesOf, broadcastStrides, elementBytes, kernel, sizeOf, stridesOf } from './util.ts';

const { backend_util, slice_util, util } = tf;

/** y[yOff + Σ i·yStrides] = x[xOff + Σ i·xStrides] over `shape`. */
export function copyInto(backend: NativeBackend, x: TensorInfo, xOff: number, xStrides: number[], y: TensorInfo, yOff: number, yStrides: number[], shape: number[]): void {
  if (sizeOf(shape) === 0) return;
  backend.addon.copy(params.begin().push(elementBytes(x.dtype), backend.handle(x), xOff, backend.handle(y), yOff).space(shape, xStrides, yStrides).block);
}

export function transpose(backend: NativeBackend, x: TensorInfo, perm: number[]): TensorInfo {
  const shape = perm.map((p) => x.shape[p]);
  const strides = stridesOf(x.shape);
  const y = backend.makeOutput(shape, x.dtype);
  copyInto(backend, x, 0, perm.map((p) => strides[p]), y, 0, stridesOf(shape), shape);
  return y;
}

export function slice(backend: NativeBackend, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const strides = stridesOf(x.shape);
  const y = backend.makeOutput(size, x.dtype);
  copyInto(backend, x, begin.reduce((a, b, d) => a + b * strides[d], 0), strides, y, 0, stridesOf(size), size);
  return y;
}

function concat(backend: NativeBackend, inputs: TensorInfo[], axis: number): TensorInfo {
  const [a] = axesOf(axis, inputs[0].shape);
  const shape = [...inputs[0].shape];
  shape[a] = inputs.reduce((s, t) => s + t.shape[a], 0);
  const y = backend.makeOutput(shape, inputs[0].dtype);
  const yStrides = stridesOf(shape);
  let at = 0;
  for (const t of inputs) {
    copyInto(backend, t, 0, stridesOf(t.shape), y, at * yStrides[a], yStrides, t.shape);
    at += t.shape[a];
  }
  return y;
}

function pack(backend: NativeBackend, inputs: TensorInfo[], axis: number): TensorInfo {
  const rank = inputs[0].shape.length;
  const a = axis < 0 ? axis + rank + 1 : axis;
  const shape = [...inputs[0].shape.slice(0, a), inputs.length, ...inputs[0].shape.slice(a)];
  const y = backend.makeOutput(shape, inputs[0].dtype);
  const yStrides = stridesOf(shape);
  const placed = yStrides.filter((_, d) => d !== a);
  inputs.forEach((t, i) => copyInto(backend, t, 0, stridesOf(t.shape), y, i * yStrides[a], placed, t.shape));
  return y;
}

function tile(backend: NativeBackend, x: TensorInfo, reps: number[]): TensorInfo {
  const shape = x.shape.map((d, i) => d * reps[i]);
  const y = backend.makeOutput(shape, x.dtype);
  const xs = stridesOf(x.shape);
  const ys = stridesOf(shape);
  // Over [reps_0, d_0, reps_1, d_1, …]: x ignores the repetition index, y places it.
  const space = x.shape.flatMap((d, i) => [reps[i], d]);
  copyInto(backend, x, 0, x.shape.flatMap((_, i) => [0, xs[i]]), y, 0, x.shape.flatMap((d, i) => [d * ys[i], ys[i]]), space);
  return y;
}

function pad(backend: NativeBackend, x: TensorInfo, paddings: [number, number][], value: number): TensorInfo {
  const shape = x.shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  const y = backend.makeOutput(shape, x.dtype);
  backend.fill(y, value);
  const ys = stridesOf(shape);
  copyInto(backend, x, 0, stridesOf(x.shape), y, paddings.reduce((a, [lo], d) => a + lo * ys[d], 0), ys, x.shape);
  return y;
}

function reverse(backend: NativeBackend, x: TensorInfo, dims: number[]): TensorInfo {
  const axes = axesOf(dims, x.shape);
  const xs = stridesOf(x.shape);
  const y = backend.makeOutput(x.shape, x.dtype);
  const off = axes.reduce((a, d) => a + (x.shape[d] - 1) * xs[d], 0);
  copyInto(backend, x, off, xs.map((s, d) => (axes.includes(d) ? -s : s)), y, 0, stridesOf(x.shape), x.shape);
  return y;
}

function broadcastTo(backend: NativeBackend, x: TensorInfo, shape: number[]): TensorInfo {
  const y = backend.makeOutput(shape, x.dtype);
  copyInto(backend, x, 0, broadcastStrides(x.shape, shape), y, 0, stridesOf(shape), shape);
  return y;
}

function filled(backend: NativeBackend, shape: number[], dtype: DataType, value: number): TensorInfo {
  const y = backend.makeOutput(shape, dtype);
  if (sizeOf(shape) > 0) backend.fill(y, value);
  return y;
}

export const shapeKernels: KernelConfig[] = [
  kernel('Reshape', ({ inputs, backend, attrs }) => backend.alias(inputs.x, util.inferFromImplicitShape(attrs.shape as number[], sizeOf(inputs.x.shape)))),
  kernel('ExpandDims', ({ inputs, backend, attrs }) => {
    const shape = [...inputs.input.shape];
    let dim = attrs.dim as number;
    if (dim < 0) dim += shape.length + 1;
    shape.splice(dim, 0, 1);
    return backend.alias(inputs.input, shape);
  }),
  kernel('Squeeze', ({ inputs, backend, attrs }) => backend.alias(inputs.x, util.squeezeShape(inputs.x.shape, attrs.axis as number[]).newShape)),
  kernel('Identity', ({ inputs, backend }) => backend.alias(inputs.x, inputs.x.shape)),
  kernel('Transpose', ({ inputs, backend, attrs }) => transpose(backend, inputs.x, attrs.perm as number[])),
  kernel('Slice', ({ inputs, backend, attrs }) => {
    const [begin, size] = slice_util.parseSliceParams(inputs.x, attrs.begin as number[], attrs.size as number[]);
    slice_util.assertParamsValid(inputs.x, begin, size);
    return slice(backend, inputs.x, begin, size);
  }),
  kernel('StridedSlice', ({ inputs, backend, attrs }) => {
    const x = inputs.x;
    const info = slice_util.sliceInfo(x.shape, attrs.begin as number[], attrs.end as number[], attrs.strides as number[], attrs.beginMask as number, attrs.endMask as number, attrs.ellipsisMask as number, attrs.newAxisMask as number, attrs.shrinkAxisMask as number);
    // Walk every input dim (shrunk ones have size 1), then reshape to the final shape: the sparse
    // shape drops shrunk dims and would misalign with the input's strides.
    const xs = stridesOf(x.shape);
    const full = x.shape.map((_, d) => Math.max(0, Math.ceil((info.end[d] - info.begin[d]) / info.strides[d])));
    const y = backend.makeOutput(full, x.dtype);
    copyInto(backend, x, info.begin.reduce((a, b, d) => a + b * xs[d], 0), xs.map((s, d) => s * info.strides[d]), y, 0, stridesOf(full), full);
    const out = backend.alias(y, info.finalShape);
    backend.disposeData(y.dataId);
    return out;
  }),
  kernel('Concat', ({ inputs, backend, attrs }) => {
    const list = Object.values(inputs).filter((t) => sizeOf(t.shape) > 0);
    const all = Object.values(inputs);
    if (list.length === 0) {
      const [a] = axesOf(attrs.axis as number, all[0].shape);
      const shape = [...all[0].shape];
      shape[a] = all.reduce((s, t) => s + t.shape[a], 0);
      return backend.makeOutput(shape, all[0].dtype);
    }
    return concat(backend, list, attrs.axis as number);
  }),
  kernel('SplitV', ({ inputs, backend, attrs }) => {
    const x = inputs.x;
    const [a] = axesOf(attrs.axis as number, x.shape);
    const sizes = backend_util.prepareSplitSize(x as never, attrs.numOrSizeSplits as number | number[], a);
    let at = 0;
    return sizes.map((s) => {
      const begin = x.shape.map((_, d) => (d === a ? at : 0));
      const size = x.shape.map((d, i) => (i === a ? s : d));
      at += s;
      return slice(backend, x, begin, size);
    });
  }),
  kernel('Pack', ({ inputs, backend, attrs }) => pack(backend, Object.values(inputs), attrs.axis as number)),
  kernel('Unpack', ({ inputs, backend, attrs }) => {
    const x = inputs.value;
    const [a] = axesOf(attrs.axis as number, x.shape);
    const outShape = x.shape.filter((_, d) => d !== a);
    return Array.from({ length: x.shape[a] }, (_, i) => {
      const part = slice(backend, x, x.shape.map((_, d) => (d === a ? i : 0)), x.shape.map((d, j) => (j === a ? 1 : d)));
      const out = backend.alias(part, outShape);
      backend.disposeData(part.dataId);
      return out;
    });
  }),
  kernel('Tile', ({ inputs, backend, attrs }) => tile(backend, inputs.x, attrs.reps as number[])),
  kernel('PadV2', ({ inputs, backend, attrs }) => pad(backend, inputs.x, attrs.paddings as [number, number][], (attrs.constantValue as number) ?? 0)),
  kernel('Reverse', ({ inputs, backend, attrs }) => reverse(backend, inputs.x, attrs.dims as number[])),
  kernel('BroadcastTo', ({ inputs, backend, attrs }) => broadcastTo(backend, inputs.x, attrs.shape as number[])),
  kernel('Diag', ({ inputs, backend }) => {
    // x of shape S → [S, S] with x on the diagonal: element i sits at flat position i·(|S| + 1).
    const x = inputs.x;
    const n = sizeOf(x.shape);
    const y = filled(backend, [...x.shape, ...x.shape], x.dtype, 0);
    copyInto(backend, x, 0, [1], y, 0, [n + 1], [n]);
    return y;
  }),
  kernel('Fill', ({ backend, attrs }) => filled(backend, attrs.shape as number[], (attrs.dtype as DataType) ?? 'float32', attrs.value as number)),
  kernel('ZerosLike', ({ inputs, backend }) => filled(backend, inputs.x.shape, inputs.x.dtype, 0)),
  kernel('OnesLike', ({ inputs, backend }) => filled(backend, inputs.x.shape, inputs.x.dtype, 1)),
];
