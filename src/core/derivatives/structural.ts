/**
 * Modules that only move or mask values: Flatten, Identity, Dropout, ZeroPad2d.
 * Shapes: x [n, *in], y [n, *out]; V [v, n, *out] → [v, n, *in].
 */
import { tf } from '../tf.ts';
import { ShapeError } from '../../errors/index.ts';
import { prod } from '../../nn/geometry.ts';
import type { SpecOf } from '../../nn/spec.ts';
import { sampleUniforms, STREAM } from '../random.ts';
import { affineModule } from './affine.ts';
import type { ForwardContext, Layer, ModuleMath } from './types.ts';

const reshapeBack = (layer: Layer<unknown>, V: tf.Tensor) => V.reshape([...(V.shape as number[]).slice(0, 2), ...layer.inShape]);

export const flatten: ModuleMath<'Flatten', null> = affineModule({
  setup(spec, inShape, where) {
    // Dims are counted with the batch axis, as in torch (start_dim=1 keeps the batch).
    const full = inShape.length + 1;
    const start = spec.start_dim < 0 ? full + spec.start_dim : spec.start_dim;
    const end = spec.end_dim < 0 ? full + spec.end_dim : spec.end_dim;
    if (start < 1 || end >= full || start > end) {
      throw new ShapeError(`${where}: Flatten(start_dim=${spec.start_dim}, end_dim=${spec.end_dim}) is invalid for input [N, ${inShape.join(', ')}] (flattening the batch axis is not supported)`);
    }
    const s = start - 1;
    const e = end - 1;
    return { outShape: [...inShape.slice(0, s), prod(inShape.slice(s, e + 1)), ...inShape.slice(e + 1)], cfg: null, params: {} };
  },
  forward: (layer, x) => x.reshape([x.shape[0], ...layer.outShape]),
  jacTMatProd: (layer, _x, _y, V) => reshapeBack(layer, V),
  jacobianStructure: () => ({ kind: 'shared' }),
});

export const identity: ModuleMath<'Identity', null> = affineModule({
  setup: (_spec, inShape) => ({ outShape: inShape, cfg: null, params: {} }),
  forward: (_layer, x) => x.clone(),
  jacTMatProd: (_layer, _x, _y, V) => V,
  jacobianStructure: () => ({ kind: 'shared' }),
});

export interface DropoutCfg {
  p: number;
  train: boolean;
}

/**
 * Dropout: identity in eval mode (the default). In train mode the mask of sample i is drawn from
 * (seed, layer index, global sample index), so it is the same whatever the sharding; the Jacobian
 * is the mask itself, recovered from y/x without storing it.
 */
export const dropout: ModuleMath<'Dropout', DropoutCfg> = affineModule({
  setup: (spec: SpecOf<'Dropout'>, inShape) => ({ outShape: inShape, cfg: { p: spec.p, train: spec.train }, params: {} }),
  forward(layer, x, ctx) {
    if (!layer.cfg.train || layer.cfg.p === 0) return x.clone();
    const mask = dropoutMask(layer, x.shape, ctx);
    const y = x.mul(tf.tensor(mask, x.shape));
    maskCache.set(y, mask);
    return y;
  },
  jacTMatProd(layer, _x, y, V) {
    if (!layer.cfg.train || layer.cfg.p === 0) return V;
    // NOTE: y/x cannot recover the mask where x = 0, so forward remembers it per output tensor.
    const mask = maskCache.get(y);
    if (!mask) throw new Error('Dropout backward called without its forward output');
    return V.mul(tf.tensor(mask, [1, ...y.shape]));
  },
  // Train mode: each sample has its own mask, so its own Jacobian.
  jacobianStructure: (layer) => ({ kind: layer.cfg.train && layer.cfg.p > 0 ? 'per-sample' : 'shared' }),
});

/**
 * Masks by output tensor, so backward uses exactly the forward's mask. Kept as host data: a mask
 * tensor would be freed by the forward pass's tidy scope before the backward pass runs.
 */
const maskCache = new WeakMap<tf.Tensor, Float32Array>();

function dropoutMask(layer: Layer<DropoutCfg>, shape: number[], ctx: ForwardContext): Float32Array {
  const per = prod(shape.slice(1));
  const data = new Float32Array(shape[0] * per);
  const keepScale = 1 / (1 - layer.cfg.p);
  for (let r = 0; r < shape[0]; r++) {
    const u = sampleUniforms(ctx.seed, STREAM.dropout, layer.index, ctx.sampleIndex[r], per);
    for (let j = 0; j < per; j++) data[r * per + j] = u[j] >= layer.cfg.p ? keepScale : 0;
  }
  return data;
}

export const zeroPad2d: ModuleMath<'ZeroPad2d', { left: number; right: number; top: number; bottom: number }> = affineModule({
  setup(spec, inShape, where) {
    if (inShape.length !== 3) throw new ShapeError(`${where}: ZeroPad2d expects input [N, C, H, W], got [N, ${inShape.join(', ')}]`);
    const [left, right, top, bottom] = typeof spec.padding === 'number' ? Array(4).fill(spec.padding) : spec.padding;
    const [c, h, w] = inShape;
    return { outShape: [c, h + top + bottom, w + left + right], cfg: { left, right, top, bottom }, params: {} };
  },
  forward: (layer, x) => {
    const { left, right, top, bottom } = layer.cfg;
    return tf.pad(x, [[0, 0], [0, 0], [top, bottom], [left, right]]);
  },
  jacTMatProd: (layer, _x, _y, V) => {
    const [, h, w] = layer.inShape;
    return tf.slice(V, [0, 0, 0, layer.cfg.top, layer.cfg.left], [-1, -1, -1, h, w]);
  },
  jacobianStructure: () => ({ kind: 'shared' }),
});
