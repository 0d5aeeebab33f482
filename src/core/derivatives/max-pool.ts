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

/**
 * Resolves kernel/stride/padding/dilation of a pool; checks torch's "pad ≤ kernel/2" rule.
 * ceil_mode (torch's pooling_output_shape): one more window per dim when the last partial one starts
 * inside the input or its left padding; it reads beyond the padded input, so padHi grows to cover it
 * (its positions are outside the input: −inf for max pooling, not counted by average pooling).
 */
export function poolGeometry(
  spec: { kernel_size: number | number[]; stride?: number | number[] | null; padding: number | number[]; dilation?: number | number[]; ceil_mode?: boolean },
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
  const inSize = inShape.slice(1);
  const floor = windowGeometry(inSize, kernel, stride, dilation, padding, padding, where);
  if (!spec.ceil_mode) return floor;
  const outSize = floor.outSize.map((o, d) => {
    const span = inSize[d] + 2 * padding[d] - dilation[d] * (kernel[d] - 1) - 1;
    const ceil = Math.ceil(span / stride[d]) + 1;
    // torch: the last window must start inside the input or its left padding.
    return (ceil - 1) * stride[d] >= inSize[d] + padding[d] ? ceil - 1 : ceil;
  });
  const padHi = outSize.map((o, d) => Math.max(padding[d], (o - 1) * stride[d] + dilation[d] * (kernel[d] - 1) + 1 - inSize[d] - padding[d]));
  return windowGeometry(inSize, kernel, stride, dilation, padding, padHi, where);
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
