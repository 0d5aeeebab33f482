/**
 * BatchNormNd in eval mode: y = (x − μ)/√(σ² + ε) · γ + β with running statistics μ, σ², so each
 * sample is processed independently. Train mode couples samples through the batch statistics and
 * makes per-sample quantities undefined; it is rejected.
 * Shapes: x, y [n, c, *sp]; γ, β, μ, σ² [c].
 */
import { tf } from '../tf.ts';
import { ShapeError, TrainModeError } from '../../errors/index.ts';
import type { SpecOf } from '../../nn/spec.ts';
import { affineModule } from './affine.ts';
import { biasJacT } from './conv-common.ts';
import type { Layer, ModuleMath } from './types.ts';

export interface BatchNormCfg {
  channels: number;
  eps: number;
  /** Trailing singleton dims to broadcast a [c] vector over [n, c, *sp]. */
  spatialRank: number;
}

type Kind = 'BatchNorm1d' | 'BatchNorm2d' | 'BatchNorm3d';

const ALLOWED_RANKS: Record<Kind, number[]> = { BatchNorm1d: [1, 2], BatchNorm2d: [3], BatchNorm3d: [4] };

const perChannel = (layer: Layer<BatchNormCfg>, t: tf.Tensor) => t.reshape([layer.cfg.channels, ...Array(layer.cfg.spatialRank).fill(1)]);

/** 1/√(σ² + ε) · γ, as [c, 1, …]. */
function scale(layer: Layer<BatchNormCfg>): tf.Tensor {
  const inv = tf.rsqrt(layer.buffers.running_var.add(layer.cfg.eps));
  return perChannel(layer, layer.params.weight ? inv.mul(layer.params.weight) : inv);
}

/** (x − μ)/√(σ² + ε): what the weight multiplies. */
function normalized(layer: Layer<BatchNormCfg>, x: tf.Tensor): tf.Tensor {
  const inv = tf.rsqrt(layer.buffers.running_var.add(layer.cfg.eps));
  return x.sub(perChannel(layer, layer.buffers.running_mean)).mul(perChannel(layer, inv));
}

export function makeBatchNorm<K extends Kind>(kind: K): ModuleMath<K, BatchNormCfg> {
  // Eval mode: affine in x with a Jacobian linear in the weight (the scale γ/√(σ² + ε)).
  return affineModule<K, BatchNormCfg>({
    setup(spec: SpecOf<Kind>, inShape, where) {
      if (spec.train) {
        throw new TrainModeError(`${where}: ${kind} in train mode normalises with the statistics of the whole batch, which couples the samples, so per-sample gradients and curvature are undefined; use eval mode (train: false) with running statistics`);
      }
      if (!spec.track_running_stats) throw new TrainModeError(`${where}: ${kind} without running statistics always uses batch statistics; per-sample quantities are undefined`);
      if (!ALLOWED_RANKS[kind].includes(inShape.length) || inShape[0] !== spec.num_features) {
        throw new ShapeError(`${where}: ${kind}(num_features=${spec.num_features}) cannot take input [N, ${inShape.join(', ')}]`);
      }
      const c = [spec.num_features];
      return {
        outShape: inShape,
        cfg: { channels: spec.num_features, eps: spec.eps, spatialRank: inShape.length - 1 },
        params: spec.affine ? { weight: c, bias: c } : {},
        buffers: { running_mean: c, running_var: c },
        // √(σ² + ε) of a negative variance is NaN: refused when the weights are read.
        bufferMin: { running_var: 0 },
      };
    },

    forward(layer, x) {
      const y = normalized(layer, x);
      const scaled = layer.params.weight ? y.mul(perChannel(layer, layer.params.weight)) : y;
      return layer.params.bias ? scaled.add(perChannel(layer, layer.params.bias)) : scaled;
    },

    jacTMatProd: (layer, _x, _y, V) => V.mul(scale(layer)),

    paramJacT: {
      weight: (layer, x, V, sumBatch) => {
        const [v, n, c] = V.shape;
        const per = V.mul(normalized(layer, x).expandDims(0)).reshape([v, n, c, -1]).sum(3);
        return sumBatch ? per.sum(1) : per;
      },
      bias: biasJacT,
    },

    jacobianStructure: () => ({ kind: 'shared' }),
    kronecker: () => ({ refused: 'no Kronecker factorisation is defined for BatchNorm (as in BackPACK): its weight is a per-channel scale, not a matrix acting on an input vector, so there is no input factor A' }),
  });
}
