/**
 * im2col (`unfold`) and its adjoint col2im (`fold`) for N-d sliding windows, as tfjs gathers.
 * Shapes: x [B, C, *in], columns [B, C·K, P] ('ckp') or [B, G, P, Cg·K] ('pck').
 */
import { tf } from '../tf.ts';
import { prod, type WindowGeometry } from '../../nn/geometry.ts';
import { foldIndices, unfoldIndices } from './window-index.ts';

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

/** x [B, C, *in] → [B, C·K, P] (order 'ckp', channel-major rows as in torch's unfold). */
export function unfold(x: tf.Tensor, g: WindowGeometry, padValue = 0): tf.Tensor3D {
  const [B, C] = x.shape;
  const idx = cachedIndex(`u|ckp|${C}|1|${JSON.stringify(g)}`, () => unfoldIndices(g, C, 1, 'ckp'));
  return tf.gather(withPadColumn(x, padValue), idx, 1).reshape([B, C * prod(g.kernel), prod(g.outSize)]);
}

/** x [B, C, *in] → [B, G, P, Cg·K]: the layout whose batched matMul needs no transpose. */
export function unfoldPatchesFirst(x: tf.Tensor, g: WindowGeometry, groups: number): tf.Tensor4D {
  const [B, C] = x.shape;
  const idx = cachedIndex(`u|pck|${C}|${groups}|${JSON.stringify(g)}`, () => unfoldIndices(g, C, groups, 'pck'));
  return tf.gather(withPadColumn(x, 0), idx, 1).reshape([B, groups, prod(g.outSize), (C / groups) * prod(g.kernel)]);
}

/** The adjoint of `unfold`: columns [B, C·K, P] → [B, C, *in], summing overlapping windows. */
export function fold(cols: tf.Tensor, g: WindowGeometry, channels: number): tf.Tensor {
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
