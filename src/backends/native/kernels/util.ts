/** Shape arithmetic shared by the native kernels. */
import type { DataType, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../../../core/tf.ts';
import type { NativeBackend } from '../backend.ts';

const { backend_util, util } = tf;

export const BACKEND_NAME = 'native';

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let step = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = step;
    step *= shape[d];
  }
  return s;
}

/** Strides of a tensor of `shape` read over the broadcast `out` shape (0 along broadcast dims). */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const own = stridesOf(shape);
  const lead = out.length - shape.length;
  return out.map((_, d) => (d < lead || shape[d - lead] === 1 ? 0 : own[d - lead]));
}

export const broadcastShape = (a: readonly number[], b: readonly number[]) => backend_util.assertAndGetBroadcastShape(a as number[], b as number[]);

export const sizeOf = (shape: readonly number[]) => util.sizeFromShape(shape as number[]);

/** Element size in bytes as the addon stores it. */
export const elementBytes = (dtype: DataType) => (dtype === 'bool' ? 1 : 4);

/** A kernel config for the native backend. */
export function kernel(kernelName: string, kernelFunc: (args: { inputs: Record<string, TensorInfo>; backend: NativeBackend; attrs: Record<string, unknown> }) => TensorInfo | TensorInfo[]): KernelConfig {
  return { kernelName, backendName: BACKEND_NAME, kernelFunc: kernelFunc as unknown as KernelFunc };
}

/** Normalises an axis list against a rank (negative axes count from the end). */
export const axesOf = (axis: number | number[] | undefined | null, shape: number[]) => util.parseAxisParam(axis ?? (null as unknown as number[]), shape);
