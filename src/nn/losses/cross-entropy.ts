/**
 * CrossEntropyLoss on logits f [n, c]: ℓ_n = logsumexp(f_n) − f_n[y_n], ∂ℓ_n/∂f_n = softmax(f_n) − e_{y_n}.
 * Soft labels (class probabilities y [n, c], torch ≥ 1.10): ℓ_n = −Σ_c y_c log softmax_c,
 * ∂ℓ_n/∂f_n = softmax(f_n)·Σ_c y_c − y_n. Rows must be distributions (Σ_c y_c = 1, checked), so the
 * hard-label Hessian below holds for them too.
 * Hessian (hard labels, Σ y = 1): ∇²ℓ_n = diag(p) − p pᵀ, factor S = diag(√p) − p √pᵀ.
 */
import { tf } from '../../core/tf.ts';
import { ShapeError } from '../../errors/index.ts';
import { checkProbabilityRows, classLabels, floatTargets } from './targets.ts';
import type { LossMath } from './types.ts';

const requireVectorOutput = (outShape: number[]) => {
  if (outShape.length !== 1) throw new ShapeError(`CrossEntropyLoss needs network output [N, C], got [N, ${outShape.join(', ')}]`);
  return outShape[0];
};

/**
 * Inverse-CDF draws of one class per (mc, row) from p [n, c] and uniforms u [M, n], on the tensors'
 * device (no read-back mid-shard): the class is the number of cumulative probabilities ≤ u among
 * the first c − 1 (the same class a sequential walk picks). Cumulative sums as p · upper-triangular
 * ones: one small product. Returns one-hot rows [M, n, c].
 */
function sampleClasses(p: tf.Tensor, u: tf.Tensor, c: number): tf.Tensor {
  const upper = tf.tensor2d(Float32Array.from({ length: c * c }, (_, i) => (Math.floor(i / c) <= i % c ? 1 : 0)), [c, c]);
  const cdf = tf.matMul(p, upper).slice([0, 0], [-1, c - 1]); // [n, c − 1]
  const below = tf.lessEqual(cdf.expandDims(0), u.expandDims(2)).sum(2); // [M, n]
  return tf.oneHot(below.toInt(), c).toFloat();
}

export const crossEntropy: LossMath = {
  kind: 'CrossEntropyLoss',
  targets(y, outShape, label, offset = 0) {
    const classes = requireVectorOutput(outShape);
    const n = y.shape[0];
    if (y.shape.length === 2 && (y.dtype === 'float32' || y.dtype === 'float64')) {
      const probs = floatTargets(y, [n, classes], label, 'CrossEntropyLoss');
      checkProbabilityRows(probs, n, classes, label, offset);
      return tf.tensor2d(probs, [n, classes]);
    }
    return tf.tensor1d(classLabels(y, n, classes, label, offset), 'int32');
  },
  rho: (reduction, N) => (reduction === 'mean' ? 1 / N : 1),
  perSample(f, y) {
    const logp = tf.logSoftmax(f);
    if (y.rank === 2) return logp.mul(y).sum(1).neg();
    return logp.mul(tf.oneHot(y, f.shape[1]!)).sum(1).neg();
  },
  gradient(f, y) {
    const p = tf.softmax(f);
    if (y.rank === 2) return p.mul(y.sum(1, true)).sub(y);
    return p.sub(tf.oneHot(y, f.shape[1]!));
  },
  sqrtHessian(f) {
    const [n, c] = f.shape as [number, number];
    const p = tf.softmax(f);
    const tau = p.sqrt();
    // S[v, n, k] = τ_k δ_vk − p_k τ_v
    const diag = tf.eye(c).reshape([c, 1, c]).mul(tau.reshape([1, n, c]));
    return diag.sub(tau.transpose().reshape([c, n, 1]).mul(p.reshape([1, n, c])));
  },
  sampledSqrtHessian(f, M, uniforms) {
    const [n, c] = f.shape as [number, number];
    const p = tf.softmax(f);
    const u = new Float32Array(M * n);
    for (let m = 0; m < M; m++) for (let row = 0; row < n; row++) u[m * n + row] = uniforms(m, row, 1)[0];
    const hot = sampleClasses(p, tf.tensor2d(u, [M, n]), c); // [M, n, c]
    return p.expandDims(0).sub(hot).div(Math.sqrt(M));
  },
  sumHessian(f) {
    const p = tf.softmax(f);
    return tf.diag(p.sum(0)).sub(tf.matMul(p.transpose(), p));
  },
  hessianMatProd(f, U) {
    const p = tf.softmax(f).expandDims(0);
    return p.mul(U).sub(p.mul(p.mul(U).sum(-1, true)));
  },
};
