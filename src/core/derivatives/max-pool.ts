/**
 * MaxPoolNd: y[n, c, p] = max_k unfold(x)[n·c, k, p] with -inf padding (as torch pads).
 * Backward routes each output's vector to the first maximising input (torch's tie rule).
 * Shapes: x [n, c, *in], y [n, c, *out]; K = Π kernel, P = Π out.
 */
import { tf } from '../tf.ts';
import { ModelSpecError, ShapeError } from '../../errors/index.ts';
import { expand, prod, windowGeometry, type WindowGeometry } from '../../nn/geometry.ts';
import type { SpecOf } from '../../nn/spec.ts';
import { fold, unfold } from '../ops/windows.ts';
import type { ModuleMath } from './types.ts';

export interface PoolCfg {
  geom: WindowGeometry;
}

type Kind = 'MaxPool1d' | 'MaxPool2d' | 'MaxPool3d';

/** Resolves kernel/stride/padding/dilation of a pool; checks torch's "pad ≤ kernel/2" rule. */
export function poolGeometry(
  spec: { kernel_size: number | number[]; stride?: number | number[] | null; padding: number | number[]; dilation?: number | number[] },
  inShape: number[],
  where: string,
  dims: number,
): WindowGeometry {
  if (inShape.length !== dims + 1) {
    throw new ShapeError(`${where}: expects input [N, C, ${Array(dims).fill('*').join(', ')}], got [N, ${inShape.join(', ')}]`);
  }
  const kernel = expand(spec.kernel_size, dims, `${where}.kernel_size`);
  const stride = spec.stride == null ? kernel : expand(spec.stride, dims, `${where}.stride`);
  const padding = expand(spec.padding, dims, `${where}.padding`);
  const dilation = expand(spec.dilation ?? 1, dims, `${where}.dilation`);
  padding.forEach((p, d) => {
    if (p > kernel[d] / 2) throw new ModelSpecError(`${where}: padding ${p} must be at most half the kernel size ${kernel[d]} (torch's rule)`);
  });
  return windowGeometry(inShape.slice(1), kernel, stride, dilation, padding, padding, where);
}

/** One channel per row: [n, c, *in] → columns [n·c, K, P]. */
const columns = (x: tf.Tensor, geom: WindowGeometry) => {
  const [n, c] = x.shape;
  return unfold(x.reshape([n * c, 1, ...geom.inSize]), geom, -Infinity);
};

export function makeMaxPool<K extends Kind>(dims: number): ModuleMath<K, PoolCfg> {
  return {
    setup(spec: SpecOf<Kind>, inShape, where) {
      const geom = poolGeometry(spec, inShape, where, dims);
      return { outShape: [inShape[0], ...geom.outSize], cfg: { geom }, params: {} };
    },

    forward(layer, x) {
      const { geom } = layer.cfg;
      const [n, c] = x.shape as number[];
      return columns(x, geom).max(1).reshape([n, c, ...geom.outSize]);
    },

    jacTMatProd(layer, x, _y, V) {
      const { geom } = layer.cfg;
      const [v, n, c] = V.shape;
      const K = prod(geom.kernel);
      const P = prod(geom.outSize);
      const winner = columns(x, geom).argMax(1); // [n·c, P], first maximum on ties
      const mask = tf.oneHot(winner, K).transpose([0, 2, 1]); // [n·c, K, P]
      const cols = mask.reshape([1, n * c, K, P]).mul(V.reshape([v, n * c, 1, P]));
      return fold(cols.reshape([v * n * c, K, P]), geom, 1).reshape([v, n, c, ...geom.inSize]);
    },
  };
}
