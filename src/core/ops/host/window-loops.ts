/**
 * Sliding-window kernels as plain loops over typed arrays, for the backends whose data lives on
 * the host (cpu, wasm). NOTE: tf.gather on wasm moves only ~25 M elements/s (measured: 790 ms for
 * a 20 M-element unfold of 2c2d's second conv at N=128), while these loops run at several hundred
 * M/s and write the layout the following matMul wants, saving a transpose as well.
 * Index maps are those of window-index.ts: map[k·P + p] = flat input position, or -1 for padding.
 * Shapes: x [B, C, S] flat; K kernel positions, P output positions.
 */
import type { UnfoldLayout } from '../kernel-names.ts';
import { windowMap } from '../window-index.ts';
import { prod, type WindowGeometry } from '../../../nn/geometry.ts';

const maps = new Map<string, Int32Array>();
export function mapOf(g: WindowGeometry): Int32Array {
  const key = JSON.stringify(g);
  let m = maps.get(key);
  if (!m) maps.set(key, (m = windowMap(g)));
  return m;
}

/** Where element (b, c, k, p) of an unfolded layout lives: b·cb + c·cc + k·ck + p·cp (image read as [B', C', S]). */
export function unfoldStrides(layout: UnfoldLayout, B: number, C: number, K: number, P: number, groups: number) {
  if (layout === 'columns') return { B, C, cb: P, cc: K * B * P, ck: B * P, cp: 1 };
  if (layout === 'samples') return { B, C, cb: C * K * P, cc: K * P, ck: P, cp: 1 };
  const cg = C / groups;
  return { B: B * groups, C: cg, cb: P * cg * K, cc: K, ck: 1, cp: cg * K };
}

export function unfoldLoop(xd: Float32Array, g: WindowGeometry, layout: UnfoldLayout, B0: number, C0: number, groups: number): Float32Array {
  const S = prod(g.inSize);
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const map = mapOf(g);
  const { B, C, cb, cc, ck, cp } = unfoldStrides(layout, B0, C0, K, P, groups);
  const out = new Float32Array(B0 * C0 * K * P);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const src = (b * C + c) * S;
      for (let k = 0; k < K; k++) {
        const dst = b * cb + c * cc + k * ck;
        for (let p = 0; p < P; p++) {
          const s = map[k * P + p];
          out[dst + p * cp] = s < 0 ? 0 : xd[src + s];
        }
      }
    }
  }
  return out;
}

/** The adjoint of unfoldLoop ('columns' or 'samples'): [B, C, S], overlapping windows summed. */
export function foldLoop(cd: Float32Array, g: WindowGeometry, layout: UnfoldLayout, B: number, C: number): Float32Array {
  const S = prod(g.inSize);
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const map = mapOf(g);
  const { cb, cc, ck, cp } = unfoldStrides(layout, B, C, K, P, 1);
  const out = new Float32Array(B * C * S);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const dst = (b * C + c) * S;
      for (let k = 0; k < K; k++) {
        const src = b * cb + c * cc + k * ck;
        for (let p = 0; p < P; p++) {
          const s = map[k * P + p];
          if (s >= 0) out[dst + s] += cd[src + p * cp];
        }
      }
    }
  }
  return out;
}

/** Index of the first maximum of every window: [B·C·P] flat input positions (−1: all padding). */
export function argmaxWindows(xd: Float32Array, BC: number, g: WindowGeometry): Int32Array {
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
        // Strictly greater keeps the first maximum, torch's tie rule; padding never wins; a NaN
        // wins and stays (torch propagates NaN through max pooling).
        const v = xd[base + s];
        if (s >= 0 && (at < 0 || v > best || (v !== v && best === best))) {
          best = v;
          at = s;
        }
      }
      arg[bc * P + p] = at;
    }
  }
  return arg;
}

export function maxPoolLoop(xd: Float32Array, BC: number, g: WindowGeometry): Float32Array {
  const S = prod(g.inSize);
  const P = prod(g.outSize);
  const arg = argmaxWindows(xd, BC, g);
  const out = new Float32Array(BC * P);
  for (let bc = 0; bc < BC; bc++) for (let p = 0; p < P; p++) out[bc * P + p] = xd[bc * S + arg[bc * P + p]];
  return out;
}

/** V [v, BC, P] → [v, BC, S]: each window's value routed to its first maximum. */
export function maxPoolJacTLoop(xd: Float32Array, vd: Float32Array, v: number, BC: number, g: WindowGeometry): Float32Array {
  const S = prod(g.inSize);
  const P = prod(g.outSize);
  const arg = argmaxWindows(xd, BC, g);
  const out = new Float32Array(v * BC * S);
  for (let i = 0; i < v; i++) {
    for (let bc = 0; bc < BC; bc++) {
      const dst = (i * BC + bc) * S;
      const src = (i * BC + bc) * P;
      for (let p = 0; p < P; p++) out[dst + arg[bc * P + p]] += vd[src + p];
    }
  }
  return out;
}

/** V [BC, S] → [BC, P]: V read at each window's first maximum. */
export function maxPoolJvpLoop(xd: Float32Array, vd: Float32Array, BC: number, g: WindowGeometry): Float32Array {
  const S = prod(g.inSize);
  const P = prod(g.outSize);
  const arg = argmaxWindows(xd, BC, g);
  const out = new Float32Array(BC * P);
  for (let bc = 0; bc < BC; bc++) for (let p = 0; p < P; p++) out[bc * P + p] = vd[bc * S + arg[bc * P + p]];
  return out;
}
