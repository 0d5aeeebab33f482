/**
 * Sliding-window kernels as plain loops over typed arrays, for the backends whose data lives on
 * the host (cpu, wasm). NOTE: tf.gather on wasm moves only ~25 M elements/s (measured: 790 ms for
 * a 20 M-element unfold of 2c2d's second conv at N=128), while these loops run at several hundred
 * M/s and write the layout the following matMul wants, saving a transpose as well.
 * Index maps are those of window-index.ts: map[k·P + p] = flat input position, or -1 for padding.
 */
import { tf } from '../tf.ts';
import { prod, type WindowGeometry } from '../../nn/geometry.ts';
import { windowMap } from './window-index.ts';

const maps = new Map<string, Int32Array>();
function mapOf(g: WindowGeometry): Int32Array {
  const key = JSON.stringify(g);
  let m = maps.get(key);
  if (!m) maps.set(key, (m = windowMap(g)));
  return m;
}

/** x [B, C, *in] → columns [C·K, B·P] (rows c·K + k; group g owns rows [g·Cg·K, (g+1)·Cg·K)). */
export function hostUnfoldColumns(x: tf.Tensor, g: WindowGeometry): tf.Tensor {
  const [B, C] = x.shape as number[];
  const S = prod(g.inSize);
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const map = mapOf(g);
  const xd = x.dataSync() as Float32Array;
  const out = new Float32Array(C * K * B * P);
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < K; k++) {
      const row = (c * K + k) * B * P;
      for (let b = 0; b < B; b++) {
        const src = (b * C + c) * S;
        const dst = row + b * P;
        for (let p = 0; p < P; p++) {
          const s = map[k * P + p];
          out[dst + p] = s < 0 ? 0 : xd[src + s];
        }
      }
    }
  }
  return tf.tensor(out, [C * K, B * P]);
}

/** The adjoint: columns [C·K, B·P] → [B, C, *in], summing overlapping windows. */
export function hostFoldColumns(cols: tf.Tensor, g: WindowGeometry, C: number, B: number): tf.Tensor {
  const S = prod(g.inSize);
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const map = mapOf(g);
  const cd = cols.dataSync() as Float32Array;
  const out = new Float32Array(B * C * S);
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < K; k++) {
      const row = (c * K + k) * B * P;
      for (let b = 0; b < B; b++) {
        const dst = (b * C + c) * S;
        const src = row + b * P;
        for (let p = 0; p < P; p++) {
          const s = map[k * P + p];
          if (s >= 0) out[dst + s] += cd[src + p];
        }
      }
    }
  }
  return tf.tensor(out, [B, C, ...g.inSize]);
}

/** x [B, C, *in] → [B, G, P, Cg·K]: per-sample patches, ready for a batched matMul. */
export function hostUnfoldPatchesFirst(x: tf.Tensor, g: WindowGeometry, groups: number): tf.Tensor {
  const [B, C] = x.shape as number[];
  return tf.tensor(hostPatchesData(x, g, groups), [B, groups, prod(g.outSize), (C / groups) * prod(g.kernel)]);
}

/** The same patches as a host array (for per-sample loops that never need them as one tensor). */
export function hostPatchesData(x: tf.Tensor, g: WindowGeometry, groups: number): Float32Array {
  const [B, C] = x.shape as number[];
  const S = prod(g.inSize);
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const cg = C / groups;
  const map = mapOf(g);
  const xd = x.dataSync() as Float32Array;
  const out = new Float32Array(B * C * P * K);
  let j = 0;
  for (let b = 0; b < B; b++) {
    for (let gi = 0; gi < groups; gi++) {
      for (let p = 0; p < P; p++) {
        for (let c = gi * cg; c < (gi + 1) * cg; c++) {
          const src = (b * C + c) * S;
          for (let k = 0; k < K; k++) {
            const s = map[k * P + p];
            out[j++] = s < 0 ? 0 : xd[src + s];
          }
        }
      }
    }
  }
  return out;
}

/** Index of the first maximum of every window: [B·C·P] flat input positions (−1: all padding). */
function argmaxWindows(xd: Float32Array, BC: number, g: WindowGeometry): Int32Array {
  const S = prod(g.inSize);
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const map = mapOf(g);
  const arg = new Int32Array(BC * P).fill(-1);
  for (let bc = 0; bc < BC; bc++) {
    const base = bc * S;
    for (let p = 0; p < P; p++) {
      let best = -Infinity;
      let at = -1;
      for (let k = 0; k < K; k++) {
        const s = map[k * P + p];
        // Strictly greater keeps the first maximum, torch's tie rule; padding reads -inf.
        if (s >= 0 && (xd[base + s] > best || at < 0)) {
          best = xd[base + s];
          at = s;
        }
      }
      arg[bc * P + p] = at;
    }
  }
  return arg;
}

/** MaxPool forward: x [B, C, *in] → [B, C, *out]. */
export function hostMaxPool(x: tf.Tensor, g: WindowGeometry): tf.Tensor {
  const [B, C] = x.shape as number[];
  const S = prod(g.inSize);
  const P = prod(g.outSize);
  const xd = x.dataSync() as Float32Array;
  const arg = argmaxWindows(xd, B * C, g);
  const out = new Float32Array(B * C * P);
  for (let bc = 0; bc < B * C; bc++) for (let p = 0; p < P; p++) out[bc * P + p] = xd[bc * S + arg[bc * P + p]];
  return tf.tensor(out, [B, C, ...g.outSize]);
}

/** MaxPool Jacobianᵀ: V [v, B, C, *out] → [v, B, C, *in], routing to each window's first maximum. */
export function hostMaxPoolJacT(x: tf.Tensor, g: WindowGeometry, V: tf.Tensor): tf.Tensor {
  const [B, C] = x.shape as number[];
  const v = V.shape[0]!;
  const S = prod(g.inSize);
  const P = prod(g.outSize);
  const arg = argmaxWindows(x.dataSync() as Float32Array, B * C, g);
  const vd = V.dataSync() as Float32Array;
  const out = new Float32Array(v * B * C * S);
  for (let i = 0; i < v; i++) {
    for (let bc = 0; bc < B * C; bc++) {
      const dst = (i * B * C + bc) * S;
      const src = (i * B * C + bc) * P;
      for (let p = 0; p < P; p++) out[dst + arg[bc * P + p]] += vd[src + p];
    }
  }
  return tf.tensor(out, [v, B, C, ...g.inSize]);
}

/** MaxPool's forward-mode Jacobian: V [B, C, *in] → [B, C, *out], each window reading V at x's first maximum. */
export function hostMaxPoolJvp(x: tf.Tensor, g: WindowGeometry, V: tf.Tensor): tf.Tensor {
  const [B, C] = x.shape as number[];
  const S = prod(g.inSize);
  const P = prod(g.outSize);
  const arg = argmaxWindows(x.dataSync() as Float32Array, B * C, g);
  const vd = V.dataSync() as Float32Array;
  const out = new Float32Array(B * C * P);
  for (let bc = 0; bc < B * C; bc++) for (let p = 0; p < P; p++) out[bc * P + p] = vd[bc * S + arg[bc * P + p]];
  return tf.tensor(out, [B, C, ...g.outSize]);
}
