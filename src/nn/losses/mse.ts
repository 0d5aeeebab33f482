/**
 * MSELoss: ℓ_n = Σ_d (f_nd − y_nd)², ∂ℓ_n/∂f_n = 2(f_n − y_n); 'mean' divides by N·D as torch does.
 * Hessian 2·I, factor √2·I; MC: ŷ ~ N(f, ½ I) gives sampled gradients √2·z, z ~ N(0, I).
 */
import { tf } from '../../core/tf.ts';
import { numel } from '../../io/host-tensor.ts';
import { floatTargets } from './targets.ts';
import type { LossMath } from './types.ts';

/** Standard normals from uniforms by Box–Muller (pairs of draws). */
function gaussians(u: Float32Array, count: number): Float32Array {
  const z = new Float32Array(count);
  for (let j = 0; j < count; j += 2) {
    const r = Math.sqrt(-2 * Math.log(u[j]));
    z[j] = r * Math.cos(2 * Math.PI * u[j + 1]);
    if (j + 1 < count) z[j + 1] = r * Math.sin(2 * Math.PI * u[j + 1]);
  }
  return z;
}

export const mse: LossMath = {
  kind: 'MSELoss',
  targets: (y, outShape, label) => {
    const shape = [y.shape[0], ...outShape];
    return tf.tensor(floatTargets(y, shape, label, 'MSELoss'), shape);
  },
  rho: (reduction, N, outShape) => (reduction === 'mean' ? 1 / (N * numel(outShape)) : 1),
  perSample: (f, y) => f.sub(y).square().reshape([f.shape[0]!, -1]).sum(1),
  gradient: (f, y) => f.sub(y).mul(2),
  sqrtHessian(f) {
    const [n, ...out] = f.shape;
    const D = numel(out);
    return tf.eye(D).mul(Math.SQRT2).reshape([D, 1, D]).tile([1, n, 1]).reshape([D, n, ...out]);
  },
  sampledSqrtHessian(f, M, uniforms) {
    const [n, ...out] = f.shape;
    const D = numel(out);
    const data = new Float32Array(M * n * D);
    const even = D + (D % 2);
    for (let m = 0; m < M; m++) for (let i = 0; i < n; i++) data.set(gaussians(uniforms(m, i, even), D), (m * n + i) * D);
    return tf.tensor(data, [M, n, ...out]).mul(Math.SQRT2 / Math.sqrt(M));
  },
  sumHessian(f) {
    const D = numel(f.shape.slice(1));
    return tf.eye(D).mul(2 * f.shape[0]!);
  },
  hessianMatProd: (_f, U) => U.mul(2),
};
