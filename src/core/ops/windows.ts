/**
 * im2col (`unfold`) and its adjoint col2im (`fold`) for N-d sliding windows, plus max pooling.
 * Two implementations behind one API: plain loops where tensor data lives on the host (cpu, wasm;
 * host-windows.ts) and tf.gather with cached index maps everywhere else (GPU backends), where a
 * gather is one fast kernel.
 * Shapes: x [B, C, *in]; columns [C·K, B·P] (rows c·K + k); patches [B, G, P, Cg·K].
 */
import { tf } from '../tf.ts';
import { prod, type WindowGeometry } from '../../nn/geometry.ts';
import { hostFoldColumns, hostMaxPool, hostMaxPoolJacT, hostMaxPoolJvp, hostUnfoldColumns, hostUnfoldPatchesFirst } from './host-windows.ts';
import { foldIndices, unfoldIndices } from './window-index.ts';

/**
 * Backends that take the loop kernels. Only wasm: its gather is the slow one, and the cpu backend's
 * gather is fast enough and keeps the ops differentiable by tf.grad (the autodiff oracle's backend).
 */
const HOST_BACKENDS = new Set(['wasm']);
let forced: 'host' | 'gather' | null = null;
const onHost = () => (forced ? forced === 'host' : HOST_BACKENDS.has(tf.getBackend()));

/** Tests only: run the other implementation on the current backend, to compare the two. */
export function forceWindowKernels(which: 'host' | 'gather' | null): void {
  forced = which;
}

const cache = new Map<string, tf.Tensor>();

/** Index tensors live for the life of the backend; they are kept out of every tidy scope. */
function cachedIndex(key: string, build: () => Int32Array): tf.Tensor {
  const full = `${tf.getBackend()}|${key}`;
  let t = cache.get(full);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.tensor1d(build(), 'int32'));
    cache.set(full, t);
  }
  return t;
}

/** Drops cached index tensors (call after switching backends or to free memory). */
export function clearWindowCache(): void {
  for (const t of cache.values()) t.dispose();
  cache.clear();
}

/** [B, C, *in] → [B, C, S+1]-flat with the pad value in the extra column. */
function withPadColumn(x: tf.Tensor, padValue: number): tf.Tensor2D {
  const [B, C] = x.shape;
  const flat = x.reshape([B, C, -1]);
  const pad = tf.fill([B, C, 1], padValue);
  return tf.concat([flat, pad], 2).reshape([B, -1]) as tf.Tensor2D;
}

/** x [B, C, *in] → [B, C·K, P] (order 'ckp', channel-major rows as in torch's unfold), by gather. */
function gatherUnfold(x: tf.Tensor, g: WindowGeometry, padValue = 0): tf.Tensor3D {
  const [B, C] = x.shape;
  const idx = cachedIndex(`u|ckp|${C}|1|${JSON.stringify(g)}`, () => unfoldIndices(g, C, 1, 'ckp'));
  return tf.gather(withPadColumn(x, padValue), idx, 1).reshape([B, C * prod(g.kernel), prod(g.outSize)]);
}

/** x [B, C, *in] → [B, G, P, Cg·K]: the layout whose batched matMul needs no transpose. */
export function unfoldPatchesFirst(x: tf.Tensor, g: WindowGeometry, groups: number): tf.Tensor {
  if (onHost()) return hostUnfoldPatchesFirst(x, g, groups);
  const [B, C] = x.shape;
  const idx = cachedIndex(`u|pck|${C}|${groups}|${JSON.stringify(g)}`, () => unfoldIndices(g, C, groups, 'pck'));
  return tf.gather(withPadColumn(x, 0), idx, 1).reshape([B, groups, prod(g.outSize), (C / groups) * prod(g.kernel)]);
}

/** The adjoint of `gatherUnfold`: columns [B, C·K, P] → [B, C, *in], summing overlapping windows. */
function gatherFold(cols: tf.Tensor, g: WindowGeometry, channels: number): tf.Tensor {
  const B = cols.shape[0];
  const { indices, width } = (() => {
    let w = 0;
    const t = cachedIndex(`f|${channels}|${JSON.stringify(g)}`, () => {
      const r = foldIndices(g, channels);
      w = r.width;
      return r.indices;
    });
    if (w === 0) w = t.size / (channels * prod(g.inSize));
    return { indices: t, width: w };
  })();
  const flat = cols.reshape([B, -1]);
  const padded = tf.concat([flat, tf.zeros([B, 1])], 1);
  const gathered = tf.gather(padded, indices, 1).reshape([B, channels * prod(g.inSize), width]);
  return gathered.sum(2).reshape([B, channels, ...g.inSize]);
}

/** x [B, C, *in] → columns [C·K, B·P]: one 2-D matMul with the weight then serves every sample. */
export function unfoldColumns(x: tf.Tensor, g: WindowGeometry): tf.Tensor {
  if (onHost()) return hostUnfoldColumns(x, g);
  const [B, C] = x.shape as number[];
  return gatherUnfold(x, g).transpose([1, 0, 2]).reshape([C * prod(g.kernel), B * prod(g.outSize)]);
}

/** The adjoint of `unfoldColumns`: [C·K, B·P] → [B, C, *in]. */
export function foldColumns(cols: tf.Tensor, g: WindowGeometry, C: number, B: number): tf.Tensor {
  if (onHost()) return hostFoldColumns(cols, g, C, B);
  const P = prod(g.outSize);
  return gatherFold(cols.reshape([C * prod(g.kernel), B, P]).transpose([1, 0, 2]), g, C);
}

/** Max pooling: x [B, C, *in] → [B, C, *out] (windows padded with −inf, as torch does). */
export function maxPool(x: tf.Tensor, g: WindowGeometry): tf.Tensor {
  if (onHost()) {
    // XNNPACK's max pool (NHWC) for the common 2-D case: square kernel and stride, symmetric
    // padding, no dilation. NOTE: only the forward value; wasm's MaxPoolWithArgmax/MaxPoolGrad are
    // wrong for some windows in tfjs 4.22, and its MaxPool corrupted the wasm heap for a kernel
    // [3, 2] with stride [2, 1] (measured), so anything else and the backward pass use our loops.
    const square = g.kernel[0] === g.kernel[1] && g.stride[0] === g.stride[1];
    const symmetric = g.padLo.every((p, d) => p === g.padHi[d] && p === g.padLo[0]);
    if (g.inSize.length === 2 && square && symmetric && g.dilation.every((d) => d === 1) && forced === null) {
      const y = tf.maxPool(x.transpose([0, 2, 3, 1]) as tf.Tensor4D, g.kernel as [number, number], g.stride as [number, number], g.padLo[0]);
      return y.transpose([0, 3, 1, 2]);
    }
    return hostMaxPool(x, g);
  }
  const [n, c] = x.shape as number[];
  return gatherUnfold(x.reshape([n * c, 1, ...g.inSize]), g, -Infinity).max(1).reshape([n, c, ...g.outSize]);
}

/** Max pooling's Jacobianᵀ: V [v, B, C, *out] → [v, B, C, *in], to each window's first maximum. */
export function maxPoolJacT(x: tf.Tensor, g: WindowGeometry, V: tf.Tensor): tf.Tensor {
  if (onHost()) return hostMaxPoolJacT(x, g, V);
  const [v, n, c] = V.shape as number[];
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const winner = gatherUnfold(x.reshape([n * c, 1, ...g.inSize]), g, -Infinity).argMax(1); // first maximum on ties
  const mask = tf.oneHot(winner, K).transpose([0, 2, 1]); // [n·c, K, P]
  const cols = mask.reshape([1, n * c, K, P]).mul(V.reshape([v, n * c, 1, P]));
  return gatherFold(cols.reshape([v * n * c, K, P]), g, 1).reshape([v, n, c, ...g.inSize]);
}

/** Max pooling's forward-mode Jacobian: V [B, C, *in] → [B, C, *out] (V read at each window's first maximum). */
export function maxPoolJvp(x: tf.Tensor, g: WindowGeometry, V: tf.Tensor): tf.Tensor {
  if (onHost()) return hostMaxPoolJvp(x, g, V);
  const [n, c] = x.shape as number[];
  const K = prod(g.kernel);
  const winner = gatherUnfold(x.reshape([n * c, 1, ...g.inSize]), g, -Infinity).argMax(1); // [n·c, P]
  const mask = tf.oneHot(winner, K).transpose([0, 2, 1]); // [n·c, K, P]
  return gatherUnfold(V.reshape([n * c, 1, ...g.inSize]), g, 0).mul(mask).sum(1).reshape([n, c, ...g.outSize]);
}
