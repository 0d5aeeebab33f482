/**
 * The fused convolution kernels (src/core/ops/kernel-names.ts): per-sample streaming on the
 * device, so unfolded shards and per-sample Jacobians that are only squared never exist in memory.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import {
  CONV_FORWARD, CONV_INPUT_GRAM, CONV_INPUT_JAC_T, CONV_WEIGHT_GRAD, CONV_WEIGHT_JAC, CONV_WEIGHT_SQUARES,
  type ConvAttrs,
} from '../../../core/ops/kernel-names.ts';
import type { NativeBackend } from '../backend.ts';
import { params } from '../params.ts';
import { windowParams } from '../window-maps.ts';
import { kernel } from './util.ts';

const KIND = { forward: 0, inputJacT: 1, weightGrad: 2, weightJac: 3, squares: 4, inputGram: 5 } as const;
const MODE = { sum: 0, rows: 1, norms: 2, centred: 3, moments: 4 } as const;

interface Operands {
  n: number;
  v: number;
  C: number;
  O: number;
  x?: TensorInfo;
  W?: TensorInfo;
  bias?: TensorInfo;
  V?: TensorInfo;
  shift?: TensorInfo;
}

function run(backend: NativeBackend, kind: keyof typeof KIND, a: ConvAttrs, o: Operands, outShape: number[]): TensorInfo {
  const w = backend.windows.of(a.geom);
  const y = backend.makeOutput(outShape, 'float32');
  const h = (t?: TensorInfo) => (t ? backend.handle(t) : -1);
  backend.addon.conv(
    params.begin().push(KIND[kind], ...windowParams(w), o.n, o.v, o.C, o.O, a.groups, h(o.x), h(o.W), h(o.bias), h(o.V), h(o.shift), backend.handle(y), MODE[a.mode ?? 'sum']).block,
  );
  return y;
}

/** [O, C/G, *k] of a layer from x [n, C, …] and V [v, n, O, …]. */
const weightShape = (a: ConvAttrs, C: number, O: number) => [O, C / a.groups, ...a.geom.kernel];

export const convKernels: KernelConfig[] = [
  kernel(CONV_FORWARD, ({ inputs, backend, attrs }) => {
    const { x, W, bias } = inputs;
    const a = attrs as ConvAttrs;
    return run(backend, 'forward', a, { n: x.shape[0], v: 1, C: x.shape[1], O: W.shape[0], x, W, bias }, [x.shape[0], W.shape[0], ...a.geom.outSize]);
  }),
  kernel(CONV_INPUT_JAC_T, ({ inputs, backend, attrs }) => {
    const { V, W } = inputs;
    const a = attrs as ConvAttrs;
    const C = W.shape[1] * a.groups;
    return run(backend, 'inputJacT', a, { n: V.shape[0], v: 1, C, O: W.shape[0], W, V }, [V.shape[0], C, ...a.geom.inSize]);
  }),
  kernel(CONV_WEIGHT_GRAD, ({ inputs, backend, attrs }) => {
    const { x, V } = inputs;
    const a = attrs as ConvAttrs;
    const [v, n, O] = V.shape;
    return run(backend, 'weightGrad', a, { n, v, C: x.shape[1], O, x, V }, [v, ...weightShape(a, x.shape[1], O)]);
  }),
  kernel(CONV_WEIGHT_JAC, ({ inputs, backend, attrs }) => {
    const { x, V } = inputs;
    const a = attrs as ConvAttrs;
    const [v, n, O] = V.shape;
    return run(backend, 'weightJac', a, { n, v, C: x.shape[1], O, x, V }, [v, n, ...weightShape(a, x.shape[1], O)]);
  }),
  kernel(CONV_WEIGHT_SQUARES, ({ inputs, backend, attrs }) => {
    const { x, V, shift } = inputs;
    const a = attrs as ConvAttrs;
    const [v, n, O] = V.shape;
    const theta = weightShape(a, x.shape[1], O);
    const shape = a.mode === 'norms' ? [n] : a.mode === 'rows' ? [n, ...theta] : a.mode === 'centred' ? [2, ...theta] : a.mode === 'moments' ? [3, ...theta] : theta;
    return run(backend, 'squares', a, { n, v, C: x.shape[1], O, x, V, shift }, shape);
  }),
  kernel(CONV_INPUT_GRAM, ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    const a = attrs as ConvAttrs;
    const CK = x.shape[1] * a.geom.kernel.reduce((p, k) => p * k, 1);
    return run(backend, 'inputGram', a, { n: x.shape[0], v: 1, C: x.shape[1], O: 1, x }, [CK, CK]);
  }),
];
