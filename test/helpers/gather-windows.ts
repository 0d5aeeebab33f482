/**
 * An independent implementation of the window kernels for tests: plain tfjs gathers with the
 * index maps of window-index.ts (no custom kernels), on whatever backend is active.
 * Shapes: x [B, C, *in]; columns [C·K, B·P]; patches [B, G, P, Cg·K].
 */
import { tf } from '../../src/core/tf.ts';
import { foldIndices, unfoldIndices } from '../../src/core/ops/window-index.ts';
import { prod, type WindowGeometry } from '../../src/nn/geometry.ts';

/** [B, C, *in] → [B, C, S+1]-flat with the pad value in the extra column. */
function withPadColumn(x: tf.Tensor, padValue: number): tf.Tensor2D {
  const [B, C] = x.shape;
  const flat = x.reshape([B, C, -1]);
  return tf.concat([flat, tf.fill([B, C, 1], padValue)], 2).reshape([B, -1]) as tf.Tensor2D;
}

/** x [B, C, *in] → [B, C·K, P] (torch's unfold order). */
function unfoldCkp(x: tf.Tensor, g: WindowGeometry, padValue = 0): tf.Tensor3D {
  const [B, C] = x.shape;
  const idx = tf.tensor1d(unfoldIndices(g, C, 1, 'ckp'), 'int32');
  return tf.gather(withPadColumn(x, padValue), idx, 1).reshape([B, C * prod(g.kernel), prod(g.outSize)]);
}

export function gatherUnfoldColumns(x: tf.Tensor, g: WindowGeometry): tf.Tensor {
  const [B, C] = x.shape as number[];
  return unfoldCkp(x, g).transpose([1, 0, 2]).reshape([C * prod(g.kernel), B * prod(g.outSize)]);
}

export function gatherUnfoldPatches(x: tf.Tensor, g: WindowGeometry, groups: number): tf.Tensor {
  const [B, C] = x.shape;
  const idx = tf.tensor1d(unfoldIndices(g, C, groups, 'pck'), 'int32');
  return tf.gather(withPadColumn(x, 0), idx, 1).reshape([B, groups, prod(g.outSize), (C / groups) * prod(g.kernel)]);
}

export function gatherFoldColumns(cols: tf.Tensor, g: WindowGeometry, C: number, B: number): tf.Tensor {
  const P = prod(g.outSize);
  const perSample = cols.reshape([C * prod(g.kernel), B, P]).transpose([1, 0, 2]);
  const { indices, width } = foldIndices(g, C);
  const padded = tf.concat([perSample.reshape([B, -1]), tf.zeros([B, 1])], 1);
  const gathered = tf.gather(padded, tf.tensor1d(indices, 'int32'), 1).reshape([B, C * prod(g.inSize), width]);
  return gathered.sum(2).reshape([B, C, ...g.inSize]);
}

export function gatherMaxPool(x: tf.Tensor, g: WindowGeometry): tf.Tensor {
  const [n, c] = x.shape as number[];
  return unfoldCkp(x.reshape([n * c, 1, ...g.inSize]), g, -Infinity).max(1).reshape([n, c, ...g.outSize]);
}

export function gatherMaxPoolJacT(x: tf.Tensor, g: WindowGeometry, V: tf.Tensor): tf.Tensor {
  const [v, n, c] = V.shape as number[];
  const K = prod(g.kernel);
  const P = prod(g.outSize);
  const winner = unfoldCkp(x.reshape([n * c, 1, ...g.inSize]), g, -Infinity).argMax(1); // first maximum on ties
  const mask = tf.oneHot(winner, K).transpose([0, 2, 1]); // [n·c, K, P]
  const cols = mask.reshape([1, n * c, K, P]).mul(V.reshape([v, n * c, 1, P])); // [v, n·c, K, P]
  // Fold each (v, n·c) plane as one channel of a batch of v·n·c.
  const perPlane = cols.reshape([v * n * c, K, P]).transpose([1, 0, 2]).reshape([K, v * n * c * P]);
  return gatherFoldColumns(perPlane, g, 1, v * n * c).reshape([v, n, c, ...g.inSize]);
}

export function gatherMaxPoolJvp(x: tf.Tensor, g: WindowGeometry, V: tf.Tensor): tf.Tensor {
  const [n, c] = x.shape as number[];
  const K = prod(g.kernel);
  const winner = unfoldCkp(x.reshape([n * c, 1, ...g.inSize]), g, -Infinity).argMax(1);
  const mask = tf.oneHot(winner, K).transpose([0, 2, 1]);
  return unfoldCkp(V.reshape([n * c, 1, ...g.inSize]), g, 0).mul(mask).sum(1).reshape([n, c, ...g.outSize]);
}
