/**
 * Reductions over any set of axes, without transposing first: the kept and the reduced axes are
 * two index spaces over the input's own strides (the device picks a row, column or strided loop).
 */
import type { DataType, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { NativeBackend } from '../backend.ts';
import { params } from '../params.ts';
import { binary, castTo } from './elementwise.ts';
import { axesOf, kernel, sizeOf, stridesOf } from './util.ts';

const OPS = { Sum: 0, Max: 1, Min: 2, Prod: 3, Any: 4, All: 5 } as const;

export function reduce(backend: NativeBackend, op: keyof typeof OPS, x: TensorInfo, axis: number | number[] | null | undefined, keepDims: boolean): TensorInfo {
  const axes = axesOf(axis, x.shape);
  const strides = stridesOf(x.shape);
  const kept = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept.map((d) => x.shape[d]);
  // Sums and products of int32/bool are int32, as tfjs's upcast rules say.
  const dtype: DataType = op === 'Any' || op === 'All' ? 'bool' : (op === 'Sum' || op === 'Prod') && x.dtype === 'bool' ? 'int32' : x.dtype;
  const input = dtype === x.dtype ? x : castTo(backend, x, dtype);
  const y = backend.makeOutput(outShape, dtype);
  if (sizeOf(outShape) > 0) {
    const red = axes.map((d) => x.shape[d]);
    if (sizeOf(red) === 0 || sizeOf(x.shape) === 0) {
      // An empty reduction is the identity of the op.
      backend.fill(y, op === 'Sum' || op === 'Any' ? 0 : op === 'Prod' || op === 'All' ? 1 : op === 'Max' ? -Infinity : Infinity);
    } else {
      backend.addon.reduce(
        params
          .begin()
          .push(OPS[op], NativeBackend.dtypeCode(dtype), backend.handle(input), backend.handle(y))
          .space(kept.map((d) => x.shape[d]), kept.map((d) => strides[d]))
          .space(red, axes.map((d) => strides[d])).block,
      );
    }
  }
  if (input !== x) backend.disposeData(input.dataId);
  return y;
}

function argReduce(backend: NativeBackend, isMax: boolean, x: TensorInfo, axis: number): TensorInfo {
  const [a] = axesOf(axis, x.shape);
  const outer = sizeOf(x.shape.slice(0, a));
  const inner = sizeOf(x.shape.slice(a + 1));
  const input = x.dtype === 'bool' ? castTo(backend, x, 'int32') : x;
  const y = backend.makeOutput(x.shape.filter((_, d) => d !== a), 'int32');
  if (sizeOf(y.shape) > 0) {
    backend.addon.argReduce(params.begin().push(isMax ? 1 : 0, NativeBackend.dtypeCode(input.dtype), backend.handle(input), backend.handle(y), outer, x.shape[a], inner).block);
  }
  if (input !== x) backend.disposeData(input.dataId);
  return y;
}

const axisAttr = (attrs: Record<string, unknown>) => (attrs.axis ?? attrs.reductionIndices) as number | number[];

export const reduceKernels: KernelConfig[] = [
  ...(Object.keys(OPS) as (keyof typeof OPS)[]).map((op) => kernel(op, ({ inputs, backend, attrs }) => reduce(backend, op, inputs.x, axisAttr(attrs), Boolean(attrs.keepDims)))),
  kernel('Mean', ({ inputs, backend, attrs }) => {
    const x = inputs.x.dtype === 'float32' ? inputs.x : castTo(backend, inputs.x, 'float32');
    const sum = reduce(backend, 'Sum', x, axisAttr(attrs), Boolean(attrs.keepDims));
    const count = sizeOf(x.shape) / Math.max(1, sizeOf(sum.shape));
    const scale = backend.makeOutput([], 'float32');
    backend.fill(scale, 1 / count);
    const y = binary(backend, 'Multiply', sum, scale);
    backend.disposeData(sum.dataId);
    backend.disposeData(scale.dataId);
    if (x !== inputs.x) backend.disposeData(x.dataId);
    return y;
  }),
  kernel('ArgMax', ({ inputs, backend, attrs }) => argReduce(backend, true, inputs.x, attrs.axis as number)),
  kernel('ArgMin', ({ inputs, backend, attrs }) => argReduce(backend, false, inputs.x, attrs.axis as number)),
];
