/**
 * BCEWithLogitsLoss: ℓ_n = Σ_d max(f,0) − f·y + log(1 + e^{−|f|}) (the stable form torch uses),
 * ∂ℓ_n/∂f_n = σ(f_n) − y_n; 'mean' divides by N·D as torch does. Targets must lie in [0, 1].
 * Hessian diag(σ(1−σ)) for any number of outputs (BackPACK only takes one): factor diag(√(σ(1−σ))).
 */
import { tf } from '../../core/tf.ts';
import { LabelRangeError } from '../../errors/index.ts';
import { numel } from '../../io/host-tensor.ts';
import { floatTargets } from './targets.ts';
import type { LossMath } from './types.ts';

const curvature = (f: tf.Tensor) => {
  const s = tf.sigmoid(f);
  return s.mul(tf.scalar(1).sub(s));
};

export const bceWithLogits: LossMath = {
  kind: 'BCEWithLogitsLoss',
  targets(y, outShape, label) {
    const shape = [y.shape[0], ...outShape];
    const values = floatTargets(y, shape, label, 'BCEWithLogitsLoss');
    const bad = values.findIndex((v) => v < 0 || v > 1);
    if (bad >= 0) throw new LabelRangeError(`${label}: BCEWithLogitsLoss target ${values[bad]} at flat index ${bad} is outside [0, 1]`);
    return tf.tensor(values, shape);
  },
  rho: (reduction, N, outShape) => (reduction === 'mean' ? 1 / (N * numel(outShape)) : 1),
  perSample(f, y) {
    const terms = tf.relu(f).sub(f.mul(y)).add(tf.log1p(tf.exp(f.abs().neg())));
    return terms.reshape([f.shape[0]!, -1]).sum(1);
  },
  gradient: (f, y) => tf.sigmoid(f).sub(y),
  sqrtHessian(f) {
    const [n, ...out] = f.shape;
    const D = numel(out);
    const root = curvature(f).sqrt().reshape([1, n, D]);
    return tf.eye(D).reshape([D, 1, D]).mul(root).reshape([D, n, ...out]);
  },
  sampledSqrtHessian(f, M, uniforms) {
    const [n, ...out] = f.shape;
    const D = numel(out);
    const s = tf.sigmoid(f);
    // Bernoulli draws ŷ = [u < σ(f)] on the tensors' device (no read-back mid-shard).
    const u = new Float32Array(M * n * D);
    for (let m = 0; m < M; m++) for (let i = 0; i < n; i++) u.set(uniforms(m, i, D), (m * n + i) * D);
    const draws = tf.less(tf.tensor(u, [M, n, ...out]), s.expandDims(0)).toFloat();
    return s.expandDims(0).sub(draws).div(Math.sqrt(M));
  },
  sumHessian: (f) => tf.diag(curvature(f).reshape([f.shape[0]!, -1]).sum(0)),
  hessianMatProd: (f, U) => U.mul(curvature(f).expandDims(0)),
};
