/**
 * BatchMatMul: [...batch, M, K] × [...batch, K, N] with either operand transposed and the batch
 * dims broadcast, as one device GEMM call (the device splits or batches it over its threads).
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeBackend } from '../backend.ts';
import { params } from '../params.ts';
import { castTo } from './elementwise.ts';
import { broadcastShape, broadcastStrides, kernel, sizeOf, stridesOf } from './util.ts';

export function batchMatMul(backend: NativeBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [M, K] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const [K2, N] = transposeB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
  if (K !== K2) {
    throw new Error(`Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShape(batchA, batchB);
  // int32 products are computed in float32 (exact below 2^24) and converted back, as tfjs keeps the dtype.
  const y = backend.makeOutput([...batch, M, N], 'float32');
  if (sizeOf(y.shape) === 0) return a.dtype === 'float32' ? y : castBack(backend, y, a.dtype);
  const A = a.dtype === 'float32' ? a : castTo(backend, a, 'float32');
  const B = b.dtype === 'float32' ? b : castTo(backend, b, 'float32');
  const scale = (s: number[], by: number) => s.map((v) => v * by);
  backend.addon.gemm(
    params
      .begin()
      .push(transposeA ? 1 : 0, transposeB ? 1 : 0, M, N, K, 1, 0)
      .push(backend.handle(A), 0, transposeA ? M : K, backend.handle(B), 0, transposeB ? K : N, backend.handle(y), 0, N)
      .space(batch, scale(broadcastStrides(batchA, batch), M * K), scale(broadcastStrides(batchB, batch), K * N), scale(stridesOf(batch), M * N)).block,
  );
  if (A !== a) backend.disposeData(A.dataId);
  if (B !== b) backend.disposeData(B.dataId);
  return a.dtype === 'float32' ? y : castBack(backend, y, a.dtype);
}

function castBack(backend: NativeBackend, y: TensorInfo, dtype: TensorInfo['dtype']): TensorInfo {
  const out = castTo(backend, y, dtype);
  backend.disposeData(y.dataId);
  return out;
}

export const matMulKernels: KernelConfig[] = [
  kernel('BatchMatMul', ({ inputs, backend, attrs }) => batchMatMul(backend, inputs.a, inputs.b, Boolean(attrs.transposeA), Boolean(attrs.transposeB))),
];
