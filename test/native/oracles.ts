/**
 * Plain-JS references for the few places where tfjs 4.22's cpu backend is itself wrong or follows
 * JavaScript rather than IEEE/TensorFlow semantics (each use says which). Float results are
 * rounded to float32 as a float32 kernel would.
 */
import { backend_util, slice_util, type DataType } from '@tensorflow/tfjs-core';
import type { HostTensor } from './harness.ts';

const stridesOf = (shape: number[]) => {
  const s = shape.map(() => 1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
};

/** Flat index into `shape` (right-aligned, size-1 dims broadcast) of output multi-index `idx`. */
function broadcastIndex(idx: number[], shape: number[]): number {
  const lead = idx.length - shape.length;
  const st = stridesOf(shape);
  let at = 0;
  shape.forEach((d, i) => (at += (d === 1 ? 0 : idx[lead + i]) * st[i]));
  return at;
}

function unravel(i: number, shape: number[]): number[] {
  const idx = shape.map(() => 0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

export function binaryOracle(a: HostTensor, b: HostTensor, f: (x: number, y: number) => number, dtype: DataType): HostTensor {
  const shape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const n = shape.reduce((p, d) => p * d, 1);
  const round = dtype === 'float32' ? Math.fround : (v: number) => v | 0;
  const values = Array.from({ length: n }, (_, i) => {
    const idx = unravel(i, shape);
    return round(f(a.values[broadcastIndex(idx, a.shape)], b.values[broadcastIndex(idx, b.shape)]));
  });
  return { shape, dtype, values };
}

export const unaryOracle = (x: HostTensor, f: (v: number) => number, dtype: DataType = x.dtype): HostTensor => ({
  shape: x.shape,
  dtype,
  values: x.values.map((v) => (dtype === 'float32' ? Math.fround(f(v)) : f(v))),
});

/** C99/IEEE pow (as std::pow, TensorFlow, numpy and tfjs's wasm backend): 1 for pow(1, y) and pow(±1, ±Inf). */
export function ieeePow(a: number, b: number): number {
  if (b === 0 || a === 1) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return Math.pow(a, b);
}

/** x [..., M, K] · y [..., K, N] in float64 over broadcast batch dims, rounded to float32. */
export function matMulOracle(a: HostTensor, b: HostTensor, transposeA: boolean, transposeB: boolean): HostTensor {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [M, K] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = backend_util.assertAndGetBroadcastShape(batchA, batchB);
  const nb = batch.reduce((p, d) => p * d, 1);
  const values: number[] = [];
  for (let t = 0; t < nb; t++) {
    const idx = unravel(t, batch);
    const offA = broadcastIndex(idx, batchA) * M * K;
    const offB = broadcastIndex(idx, batchB) * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a.values[offA + (transposeA ? k * M + i : i * K + k)];
          const bv = b.values[offB + (transposeB ? j * K + k : k * N + j)];
          s += av * bv;
        }
        values.push(Math.fround(s));
      }
    }
  }
  return { shape: [...batch, M, N], dtype: 'float32', values };
}

/**
 * StridedSlice from the dense begin/end/strides of tfjs's own attribute parser (slice_util), walking
 * every input dim (shrunk ones with one index), then shaped as the op's final shape.
 */
export function stridedSliceOracle(x: HostTensor, begin: number[], end: number[], strides: number[], masks: number[]): HostTensor {
  const [beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask] = masks;
  const info = slice_util.sliceInfo(x.shape, begin, end, strides, beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask);
  const counts = x.shape.map((_, d) => Math.max(0, Math.ceil((info.end[d] - info.begin[d]) / info.strides[d])));
  const st = stridesOf(x.shape);
  const n = counts.reduce((p, c) => p * c, 1);
  const values = Array.from({ length: n }, (_, i) => {
    const idx = unravel(i, counts);
    return x.values[idx.reduce((a, k, d) => a + (info.begin[d] + k * info.strides[d]) * st[d], 0)];
  });
  return { shape: info.finalShape, dtype: x.dtype, values };
}
