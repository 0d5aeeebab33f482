/**
 * BCEWithLogitsLoss: ℓ_n = Σ_d max(f,0) − f·y + log(1 + e^{−|f|}) (the stable form torch uses),
 * ∂ℓ_n/∂f_n = σ(f_n) − y_n; 'mean' divides by N·D as torch does. Targets must lie in [0, 1].
 */
import { tf } from '../../core/tf.ts';
import { LabelRangeError } from '../../errors/index.ts';
import { numel } from '../../io/host-tensor.ts';
import { floatTargets } from './targets.ts';
import type { LossMath } from './types.ts';

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
};
