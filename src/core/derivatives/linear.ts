/**
 * Linear: y = x Wᵀ + b over the last axis, any leading dims (l).
 * Shapes: x [n, *l, i], y [n, *l, o], W [o, i], b [o].
 */
import { tf } from '../tf.ts';
import { ShapeError } from '../../errors/index.ts';
import { prod } from '../../nn/geometry.ts';
import { hasKernel, runKernelOutputs } from '../ops/fused.ts';
import { OUTER_PRODUCTS } from '../ops/kernel-names.ts';
import { matMulT } from '../ops/matmul.ts';
import { affineModule } from './affine.ts';
import { derivedTensor } from './derived.ts';
import { linearWeightSquares } from './linear-squares.ts';
import type { Layer, ModuleMath } from './types.ts';

export interface LinearCfg {
  inFeatures: number;
  outFeatures: number;
  /** Product of the leading dims between n and the feature axis (1 for [n, i] inputs). */
  lead: number;
}

const forward: ModuleMath<'Linear', LinearCfg>['forward'] = (layer, x) => {
  const { inFeatures, outFeatures } = layer.cfg;
  // NOTE: an explicitly transposed W (made once per network) keeps the matMul on wasm's fast path.
  const wt = derivedTensor(layer, 'weight.T', layer.params.weight!, (w) => w.transpose());
  let y = tf.matMul(x.reshape([-1, inFeatures]), wt);
  if (layer.params.bias) y = y.add(layer.params.bias);
  return y.reshape([x.shape[0], ...layer.outShape.slice(0, -1), outFeatures]);
};

const jacTMatProd: ModuleMath<'Linear', LinearCfg>['jacTMatProd'] = (layer, _x, _y, V) => {
  const { outFeatures } = layer.cfg;
  return tf.matMul(V.reshape([-1, outFeatures]), layer.params.weight!).reshape([...V.shape.slice(0, 2), ...layer.inShape]);
};

const paramJacT: NonNullable<ModuleMath<'Linear', LinearCfg>['paramJacT']> = {
  weight: (layer, x, V, sumBatch) => {
    const { inFeatures: I, outFeatures: O, lead: L } = layer.cfg;
    const v = V.shape[0];
    const N = x.shape[0];
    if (sumBatch) {
      // [v, n·l, o]ᵀ @ [n·l, i] for each v
      return matMulT(V.reshape([v, N * L, O]), x.reshape([1, N * L, I]), true, false).reshape([v, O, I]);
    }
    if (L === 1) return V.reshape([v, N, O, 1]).mul(x.reshape([1, N, 1, I]));
    const vt = V.reshape([v * N, L, O]).transpose([0, 2, 1]);
    const xs = tf.tile(x.reshape([1, N, L, I]), [v, 1, 1, 1]).reshape([v * N, L, I]);
    return tf.matMul(vt, xs).reshape([v, N, O, I]);
  },
  bias: (layer: Layer<LinearCfg>, x, V, sumBatch) => {
    const { outFeatures: O, lead: L } = layer.cfg;
    const [v, N] = [V.shape[0]!, x.shape[0]!];
    if (sumBatch) return V.reshape([v, N * L, O]).sum(1);
    return L === 1 ? V.reshape([v, N, O]) : V.reshape([v, N, L, O]).sum(2);
  },
};

/** Without leading dims: BatchGrad's rows V_vn x_nᵀ and the gradient in one pass where the backend has the kernel (native). */
const paramJacTWithSum: NonNullable<ModuleMath<'Linear', LinearCfg>['paramJacTWithSum']> = {
  weight: (layer, x, V) => {
    const { inFeatures: I, outFeatures: O, lead: L } = layer.cfg;
    if (L !== 1 || !hasKernel(OUTER_PRODUCTS)) return null;
    const [v, N] = [V.shape[0]!, x.shape[0]!];
    const [rows, sum] = runKernelOutputs(OUTER_PRODUCTS, { V: V.reshape([v, N, O]), x: x.reshape([N, I]) }, {});
    return [rows!, sum!];
  },
};

export const linear: ModuleMath<'Linear', LinearCfg> = affineModule({
  setup(spec, inShape, where) {
    const last = inShape[inShape.length - 1];
    if (last !== spec.in_features) {
      throw new ShapeError(`${where}: Linear expects in_features=${spec.in_features} on the last axis, got input [N, ${inShape.join(', ')}]`);
    }
    return {
      outShape: [...inShape.slice(0, -1), spec.out_features],
      cfg: { inFeatures: spec.in_features, outFeatures: spec.out_features, lead: prod(inShape.slice(0, -1)) },
      params: spec.bias ? { weight: [spec.out_features, spec.in_features], bias: [spec.out_features] } : { weight: [spec.out_features, spec.in_features] },
    };
  },

  forward,
  jacTMatProd,
  paramJacT,
  paramJacTWithSum,
  jacobianStructure: () => ({ kind: 'shared' }),
  // Leading dims are treated like conv's spatial positions (BackPACK refuses them).
  kronecker: () => ({
    outputAxis: 'last',
    inputFactorSum: (_layer, x) => {
      const X = x.reshape([-1, x.shape[x.rank - 1]]);
      return matMulT(X, X, true, false);
    },
  }),
  paramSquares: { weight: linearWeightSquares },
});
