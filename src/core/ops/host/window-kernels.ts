/**
 * The sliding-window custom kernels (src/core/ops/kernel-names.ts) for the backends whose tensor
 * data lives on the host: cpu and wasm, as the loops of window-loops.ts (the reference the native
 * kernels are tested against).
 */
import type { DataType, KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../../tf.ts';
import { FOLD, MAX_POOL, MAX_POOL_JAC_T, MAX_POOL_JVP, UNFOLD, type FoldAttrs, type UnfoldAttrs, type WindowAttrs } from '../kernel-names.ts';
import { prod } from '../../../nn/geometry.ts';
import { foldLoop, maxPoolJacTLoop, maxPoolJvpLoop, maxPoolLoop, unfoldLoop } from './window-loops.ts';

const { registerKernel } = tf;

type Args = { inputs: Record<string, TensorInfo>; backend: KernelBackend; attrs: Record<string, unknown> };

const read = (backend: KernelBackend, t: TensorInfo) => backend.readSync(t.dataId) as Float32Array;
const output = (backend: KernelBackend, values: Float32Array, shape: number[]): TensorInfo => ({ dataId: backend.write(values, shape, 'float32' as DataType), shape, dtype: 'float32' });

const KERNELS: Record<string, (a: Args) => TensorInfo> = {
  [UNFOLD]: ({ inputs: { x }, backend, attrs }) => {
    const a = attrs as UnfoldAttrs;
    const [B, C] = x.shape;
    const K = prod(a.geom.kernel);
    const P = prod(a.geom.outSize);
    const shape = a.layout === 'columns' ? [C * K, B * P] : a.layout === 'samples' ? [B, C * K, P] : [B, a.groups, P, (C / a.groups) * K];
    return output(backend, unfoldLoop(read(backend, x), a.geom, a.layout, B, C, a.groups), shape);
  },
  [FOLD]: ({ inputs: { cols }, backend, attrs }) => {
    const a = attrs as FoldAttrs;
    return output(backend, foldLoop(read(backend, cols), a.geom, a.layout, a.batch, a.channels), [a.batch, a.channels, ...a.geom.inSize]);
  },
  [MAX_POOL]: ({ inputs: { x }, backend, attrs }) => {
    const { geom } = attrs as WindowAttrs;
    return output(backend, maxPoolLoop(read(backend, x), x.shape[0] * x.shape[1], geom), [x.shape[0], x.shape[1], ...geom.outSize]);
  },
  [MAX_POOL_JAC_T]: ({ inputs: { x, V }, backend, attrs }) => {
    const { geom } = attrs as WindowAttrs;
    return output(backend, maxPoolJacTLoop(read(backend, x), read(backend, V), V.shape[0], x.shape[0] * x.shape[1], geom), [V.shape[0], x.shape[0], x.shape[1], ...geom.inSize]);
  },
  [MAX_POOL_JVP]: ({ inputs: { x, V }, backend, attrs }) => {
    const { geom } = attrs as WindowAttrs;
    return output(backend, maxPoolJvpLoop(read(backend, x), read(backend, V), x.shape[0] * x.shape[1], geom), [x.shape[0], x.shape[1], ...geom.outSize]);
  },
};

// Registered for both host backends as soon as the window ops are imported (a registry entry
// costs nothing where the backend itself is never loaded).
for (const backendName of ['cpu', 'wasm']) {
  for (const [kernelName, f] of Object.entries(KERNELS)) registerKernel({ kernelName, backendName, kernelFunc: f as unknown as KernelFunc });
}
