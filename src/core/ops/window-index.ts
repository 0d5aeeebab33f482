/**
 * Index maps that turn sliding windows (im2col) and their adjoint (col2im) into plain gathers.
 *
 * NOTE: wasm has no Conv2DBackpropFilter and a slow Conv2DBackpropInput (../shared/STACK.md), and
 * tfjs has no N-d conv for 1d/3d weight gradients at all. A gather with a precomputed index map is
 * registered on every backend, is fast, and works for any number of spatial dims, strides,
 * dilations and asymmetric padding. Maps are small (C·K·P int32s) and cached per geometry.
 */
import type { WindowGeometry } from '../../nn/geometry.ts';
import { prod } from '../../nn/geometry.ts';

/**
 * For each (k, p): the flat spatial input index read by kernel position k at output position p,
 * or -1 where the window reads padding. Layout [K, P], both in C order.
 */
export function windowMap(g: WindowGeometry): Int32Array {
  const dims = g.inSize.length;
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const map = new Int32Array(K * P);
  const kIdx = new Array<number>(dims).fill(0);
  for (let k = 0; k < K; k++) {
    let rem = k;
    for (let d = dims - 1; d >= 0; d--) {
      kIdx[d] = rem % g.kernel[d];
      rem = Math.floor(rem / g.kernel[d]);
    }
    for (let p = 0; p < P; p++) {
      let r = p;
      let flat = 0;
      let inside = true;
      let scale = 1;
      for (let d = dims - 1; d >= 0; d--) {
        const o = r % g.outSize[d];
        r = Math.floor(r / g.outSize[d]);
        const i = o * g.stride[d] - g.padLo[d] + kIdx[d] * g.dilation[d];
        if (i < 0 || i >= g.inSize[d]) inside = false;
        flat += i * scale;
        scale *= g.inSize[d];
      }
      map[k * P + p] = inside ? flat : -1;
    }
  }
  return map;
}

/**
 * Gather indices into a `[C, S+1]`-flattened input (column S of each channel holds the pad value)
 * producing `[G, P, Cg·K]` (order 'pck') or `[C·K, P]` i.e. `[G, Cg·K, P]` (order 'ckp').
 */
export function unfoldIndices(g: WindowGeometry, channels: number, groups: number, order: 'ckp' | 'pck'): Int32Array {
  const map = windowMap(g);
  const S = prod(g.inSize);
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const cg = channels / groups;
  const out = new Int32Array(channels * K * P);
  let j = 0;
  const src = (c: number, k: number, p: number) => {
    const s = map[k * P + p];
    return c * (S + 1) + (s < 0 ? S : s);
  };
  if (order === 'ckp') {
    for (let c = 0; c < channels; c++) for (let k = 0; k < K; k++) for (let p = 0; p < P; p++) out[j++] = src(c, k, p);
  } else {
    for (let gi = 0; gi < groups; gi++)
      for (let p = 0; p < P; p++)
        for (let c = gi * cg; c < (gi + 1) * cg; c++) for (let k = 0; k < K; k++) out[j++] = src(c, k, p);
  }
  return out;
}

/**
 * For each input position s, the flat (k·P + p) entries of the window map that read it, in
 * increasing order, -1-padded to the widest count M. Layout [S, M]. (The adjoint of unfolding
 * as a gather: deterministic, no scatter.)
 */
export function inverseWindowMap(g: WindowGeometry): { inv: Int32Array; width: number } {
  const map = windowMap(g);
  const S = prod(g.inSize);
  const counts = new Int32Array(S);
  for (let j = 0; j < map.length; j++) if (map[j] >= 0) counts[map[j]]++;
  let width = 1;
  for (let s = 0; s < S; s++) width = Math.max(width, counts[s]);
  const inv = new Int32Array(S * width).fill(-1);
  const fill = new Int32Array(S);
  for (let j = 0; j < map.length; j++) {
    const s = map[j];
    if (s >= 0) inv[s * width + fill[s]++] = j;
  }
  return { inv, width };
}

/**
 * The adjoint map: for each input element (c, s), the positions in a `[C·K·P]` ('ckp') column
 * buffer that read it, padded with the sentinel C·K·P (a zero appended to the columns).
 * Returned as `[C·S, M]` with M the largest number of windows covering one input element.
 */
export function foldIndices(g: WindowGeometry, channels: number): { indices: Int32Array; width: number } {
  const { inv, width } = inverseWindowMap(g);
  const S = prod(g.inSize);
  const KP = prod(g.kernel) * prod(g.outSize);
  const sentinel = channels * KP;
  const indices = new Int32Array(channels * S * width);
  for (let c = 0; c < channels; c++) {
    const base = c * S * width;
    for (let q = 0; q < S * width; q++) indices[base + q] = inv[q] < 0 ? sentinel : c * KP + inv[q];
  }
  return { indices, width };
}
