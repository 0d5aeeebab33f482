/** MSELoss: ℓ_n = Σ_d (f_nd − y_nd)², ∂ℓ_n/∂f_n = 2(f_n − y_n); 'mean' divides by N·D as torch does. */
import { tf } from '../../core/tf.ts';
import { numel } from '../../io/host-tensor.ts';
import { floatTargets } from './targets.ts';
import type { LossMath } from './types.ts';

export const mse: LossMath = {
  kind: 'MSELoss',
  targets: (y, outShape, label) => {
    const shape = [y.shape[0], ...outShape];
    return tf.tensor(floatTargets(y, shape, label, 'MSELoss'), shape);
  },
  rho: (reduction, N, outShape) => (reduction === 'mean' ? 1 / (N * numel(outShape)) : 1),
  perSample: (f, y) => f.sub(y).square().reshape([f.shape[0]!, -1]).sum(1),
  gradient: (f, y) => f.sub(y).mul(2),
};
