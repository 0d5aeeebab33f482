/**
 * MaxPoolNd: y[n, c, p] = max_k unfold(x)[n·c, k, p] with -inf padding (as torch pads).
 * Backward routes each output's vector to the first maximising input (torch's tie rule).
 * Shapes: x [n, c, *in], y [n, c, *out]; K = Π kernel, P = Π out.
 */
import { ModelSpecError, ShapeError } from '../../errors/index.ts';
import { expand, windowGeometry, type WindowGeometry } from '../../nn/geometry.ts';
import type { SpecOf } from '../../nn/spec.ts';
import { maxPool, maxPoolJacT, maxPoolJvp } from '../ops/windows.ts';
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

export function makeMaxPool<K extends Kind>(dims: number): ModuleMath<K, PoolCfg> {
  return {
    setup(spec: SpecOf<Kind>, inShape, where) {
      const geom = poolGeometry(spec, inShape, where, dims);
      return { outShape: [inShape[0], ...geom.outSize], cfg: { geom }, params: {} };
    },

    forward: (layer, x) => maxPool(x, layer.cfg.geom),
    jacTMatProd: (layer, x, _y, V) => maxPoolJacT(x, layer.cfg.geom, V),
    jvp: (layer, x, _y, V) => maxPoolJvp(x, layer.cfg.geom, V),
    // Piecewise linear: a selection of inputs, fixed almost everywhere.
    inputHessian: { kind: 'zero' },
    // Which input wins a window depends on the sample.
    jacobianStructure: () => ({ kind: 'per-sample' }),
  };
}
