/**
 * LayerNorm and GroupNorm (torch semantics, elementwise affine): each sample's input is cut into M
 * groups of K elements, every group is standardised with its own mean and biased variance,
 * x̂ = (x − μ)/s with s = √(σ² + ε), and y = γ ⊙ x̂ + β. LayerNorm's groups are its trailing
 * `normalized_shape` dims (γ, β have that shape); GroupNorm's are C/G channels with all their
 * positions (γ, β are per channel, [C]). Per sample, so per-sample quantities are defined (unlike
 * BatchNorm in train mode).
 *
 * Not affine in x, so the record states everything itself. Per group, with J = ∂x̂/∂x:
 *   J u = (u − mean(u) − x̂·mean(x̂ ⊙ u)) / s          (J is symmetric)
 * and the input Hessian of wᵀx̂ (w = γ ⊙ g, the gradient w.r.t. x̂) applied to v, the derivative of
 * Jᵀw along v, with a = mean(x̂ ⊙ v) (= ds) and m = mean(w ⊙ x̂):
 *   R v = −(a·Jᵀw + m·Jv + x̂·mean(w ⊙ Jv)) / s.
 * Index letters: v stacked vectors, n samples, M groups, K elements per group; θ = γ's shape.
 */
import { tf } from '../tf.ts';
import { ModelSpecError, ShapeError } from '../../errors/index.ts';
import { prod } from '../../nn/geometry.ts';
import type { SpecOf } from '../../nn/spec.ts';
import type { Layer, LayerSetup, ModuleMath } from './types.ts';

export interface NormCfg {
  /** Groups per sample (M) and elements per group (K). */
  groups: number;
  groupSize: number;
  eps: number;
  /** How θ lies over the input: 'trailing' (LayerNorm: θ = the last dims) or 'channel' (GroupNorm: θ = [C] over [C, *sp]). */
  paramAxis: 'trailing' | 'channel';
  paramShape: number[];
}

/** x̂ [n, M, K] and 1/s [n, M, 1]. Plain ops, so the autodiff oracles can differentiate forward twice. */
function standardize(cfg: NormCfg, x: tf.Tensor): { xhat: tf.Tensor; inv: tf.Tensor } {
  const xr = x.reshape([x.shape[0], cfg.groups, cfg.groupSize]);
  const xc = xr.sub(xr.mean(2, true));
  const inv = tf.rsqrt(xc.square().mean(2, true).add(cfg.eps));
  return { xhat: xc.mul(inv), inv };
}

/** J U for the stacked U [v, n, *in] (J = Jᵀ): [v, n, *in]. */
function standardizeJac(cfg: NormCfg, xhat: tf.Tensor, inv: tf.Tensor, U: tf.Tensor): tf.Tensor {
  const [v, n] = U.shape;
  const u = U.reshape([v, n, cfg.groups, cfg.groupSize]);
  return u.sub(u.mean(3, true)).sub(xhat.mul(u.mul(xhat).mean(3, true))).mul(inv).reshape(U.shape);
}

/** A [*θ] tensor shaped to broadcast over [.., n, *in]. */
function overInput(layer: Layer<NormCfg>, t: tf.Tensor): tf.Tensor {
  if (layer.cfg.paramAxis === 'trailing') return t;
  return t.reshape([layer.cfg.paramShape[0], ...Array(layer.inShape.length - 1).fill(1)]);
}

/** [v, n, *in] summed onto θ: [v, n, *θ]. */
function ontoParam(layer: Layer<NormCfg>, T: tf.Tensor): tf.Tensor {
  const [v, n] = T.shape;
  const { paramAxis, paramShape } = layer.cfg;
  if (paramAxis === 'channel') return T.reshape([v, n, paramShape[0], -1]).sum(3);
  return T.reshape([v, n, -1, prod(paramShape)]).sum(2).reshape([v, n, ...paramShape]);
}

const scaled = (layer: Layer<NormCfg>, T: tf.Tensor, weight = layer.params.weight) => (weight ? T.mul(overInput(layer, weight)) : T);

function setupLayerNorm(spec: SpecOf<'LayerNorm'>, inShape: number[], where: string): LayerSetup<NormCfg> {
  const shape = typeof spec.normalized_shape === 'number' ? [spec.normalized_shape] : spec.normalized_shape;
  const tail = inShape.slice(inShape.length - shape.length);
  if (shape.length > inShape.length || tail.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${where}: LayerNorm(normalized_shape=[${shape.join(', ')}]) needs an input ending in those dims, got [N, ${inShape.join(', ')}]`);
  }
  const K = prod(shape);
  const params = spec.elementwise_affine ? (spec.bias ? { weight: shape, bias: shape } : { weight: shape }) : {};
  return { outShape: inShape, cfg: { groups: prod(inShape) / K, groupSize: K, eps: spec.eps, paramAxis: 'trailing', paramShape: shape }, params };
}

function setupGroupNorm(spec: SpecOf<'GroupNorm'>, inShape: number[], where: string): LayerSetup<NormCfg> {
  if (inShape[0] !== spec.num_channels) {
    throw new ShapeError(`${where}: GroupNorm(num_channels=${spec.num_channels}) expects input [N, ${spec.num_channels}, *], got [N, ${inShape.join(', ')}]`);
  }
  if (spec.num_channels % spec.num_groups !== 0) {
    throw new ModelSpecError(`${where}: num_groups=${spec.num_groups} must divide num_channels=${spec.num_channels}`);
  }
  const c = [spec.num_channels];
  const params = spec.affine ? { weight: c, bias: c } : {};
  return { outShape: inShape, cfg: { groups: spec.num_groups, groupSize: prod(inShape) / spec.num_groups, eps: spec.eps, paramAxis: 'channel', paramShape: c }, params };
}

const KRONECKER_REFUSAL = 'no Kronecker factorisation is defined for LayerNorm or GroupNorm: as for BatchNorm, the weight is an elementwise scale (per feature or channel), not a matrix acting on an input vector, so there is no input factor A';

function makeNorm<K extends 'LayerNorm' | 'GroupNorm'>(setup: (spec: SpecOf<K>, inShape: number[], where: string) => LayerSetup<NormCfg>): ModuleMath<K, NormCfg> {
  return {
    setup,

    forward(layer, x) {
      const xhat = standardize(layer.cfg, x).xhat.reshape(x.shape);
      const y = scaled(layer, xhat);
      return layer.params.bias ? y.add(overInput(layer, layer.params.bias)) : y;
    },

    jacTMatProd(layer, x, _y, V) {
      const { xhat, inv } = standardize(layer.cfg, x);
      return standardizeJac(layer.cfg, xhat, inv, scaled(layer, V));
    },

    paramJacT: {
      weight: (layer, x, V, sumBatch) => {
        const per = ontoParam(layer, V.mul(standardize(layer.cfg, x).xhat.reshape(x.shape)));
        return sumBatch ? per.sum(1) : per;
      },
      bias: (layer, _x, V, sumBatch) => {
        const per = ontoParam(layer, V);
        return sumBatch ? per.sum(1) : per;
      },
    },

    jvp(layer, x, _y, V) {
      const { xhat, inv } = standardize(layer.cfg, x);
      return scaled(layer, standardizeJac(layer.cfg, xhat, inv, V.expandDims(0)).squeeze([0]));
    },

    // Linear in (γ, β) at fixed x: x̂ ⊙ v_γ + v_β.
    paramJvp(layer, x, v) {
      let out = v.weight ? standardize(layer.cfg, x).xhat.reshape(x.shape).mul(overInput(layer, v.weight)) : tf.zeros(x.shape);
      if (v.bias) out = out.add(overInput(layer, v.bias));
      return out;
    },

    inputHessian: {
      kind: 'dense',
      matProd(layer, x, _y, gOut, V) {
        const { groups: M, groupSize: K } = layer.cfg;
        const [v, n] = V.shape;
        const { xhat, inv } = standardize(layer.cfg, x);
        const w = scaled(layer, gOut).reshape([1, n, M, K]);
        const u = V.reshape([v, n, M, K]);
        const a = u.mul(xhat).mean(3, true);
        const Ju = u.sub(u.mean(3, true)).sub(xhat.mul(a)).mul(inv);
        const m = w.mul(xhat).mean(3, true);
        const JTw = w.sub(w.mean(3, true)).sub(xhat.mul(m)).mul(inv);
        const sum = JTw.mul(a).add(Ju.mul(m)).add(xhat.mul(w.mul(Ju).mean(3, true)));
        return sum.mul(inv).neg().reshape(V.shape);
      },
    },

    mixed: {
      paramJacTAlongInput: {
        // J_γᵀ V = Σ_n V ⊙ x̂ moves with x through x̂: Σ_n V ⊙ J dx.
        weight: (layer, x, dx, V) => {
          const { xhat, inv } = standardize(layer.cfg, x);
          return ontoParam(layer, V.mul(standardizeJac(layer.cfg, xhat, inv, dx.expandDims(0)))).sum(1);
        },
        // J_βᵀ V = Σ_n V does not depend on x.
        bias: (layer, _x, _dx, V) => tf.zeros([V.shape[0], ...layer.cfg.paramShape]),
      },
      // J_xᵀ V = J (γ ⊙ V) is linear in γ and free of β.
      inputJacTAlongParams(layer, x, _y, V, v) {
        if (!v.weight) return tf.zeros([V.shape[0]!, V.shape[1]!, ...layer.inShape]);
        const { xhat, inv } = standardize(layer.cfg, x);
        return standardizeJac(layer.cfg, xhat, inv, scaled(layer, V, v.weight));
      },
    },

    // x̂ and s are the sample's own.
    jacobianStructure: () => ({ kind: 'per-sample' }),
    kronecker: () => ({ refused: KRONECKER_REFUSAL }),
  };
}

export const layerNorm = makeNorm<'LayerNorm'>(setupLayerNorm);
export const groupNorm = makeNorm<'GroupNorm'>(setupGroupNorm);
