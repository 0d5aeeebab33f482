/** GatherV2, OneHot, Softmax and ArgMax's relatives: kernels that index along one axis. */
import type { DataType, KernelConfig } from '@tensorflow/tfjs-core';
import { NativeBackend } from '../backend.ts';
import { params } from '../params.ts';
import { castTo } from './elementwise.ts';
import { axesOf, elementBytes, kernel, sizeOf } from './util.ts';

export const gatherKernels: KernelConfig[] = [
  kernel('GatherV2', ({ inputs, backend, attrs }) => {
    const { x, indices } = inputs;
    const [axis] = axesOf(attrs.axis as number, x.shape);
    const batchDims = (attrs.batchDims as number) ?? 0;
    const batch = sizeOf(x.shape.slice(0, batchDims));
    const outer = sizeOf(x.shape.slice(batchDims, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    const nIdx = sizeOf(indices.shape.slice(batchDims));
    const shape = [...x.shape.slice(0, axis), ...indices.shape.slice(batchDims), ...x.shape.slice(axis + 1)];
    const idx = indices.dtype === 'int32' ? indices : castTo(backend, indices, 'int32');
    const y = backend.makeOutput(shape, x.dtype);
    if (sizeOf(shape) > 0) {
      backend.addon.gather(params.begin().push(elementBytes(x.dtype), backend.handle(x), backend.handle(idx), backend.handle(y), batch, outer, x.shape[axis], nIdx, inner).block);
    }
    if (idx !== indices) backend.disposeData(idx.dataId);
    return y;
  }),
  kernel('OneHot', ({ inputs, backend, attrs }) => {
    const indices = inputs.indices;
    const depth = attrs.depth as number;
    const dtype = (attrs.dtype as DataType) ?? 'int32';
    const idx = indices.dtype === 'int32' ? indices : castTo(backend, indices, 'int32');
    const y = backend.makeOutput([...indices.shape, depth], dtype);
    if (sizeOf(y.shape) > 0) {
      backend.addon.oneHot(params.begin().push(NativeBackend.dtypeCode(dtype), backend.handle(idx), backend.handle(y), sizeOf(indices.shape), depth, attrs.onValue as number, attrs.offValue as number).block);
    }
    if (idx !== indices) backend.disposeData(idx.dataId);
    return y;
  }),
  kernel('Softmax', ({ inputs, backend, attrs }) => {
    const x = inputs.logits;
    const dim = attrs.dim as number;
    if (dim !== -1 && dim !== x.shape.length - 1) throw new Error(`native Softmax takes the last axis only, got dim ${dim}`);
    const cols = x.shape[x.shape.length - 1];
    const y = backend.makeOutput(x.shape, 'float32');
    if (sizeOf(x.shape) > 0) backend.addon.softmax(params.begin().push(backend.handle(x), backend.handle(y), sizeOf(x.shape) / cols, cols).block);
    return y;
  }),
];
