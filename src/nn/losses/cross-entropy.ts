/**
 * CrossEntropyLoss on logits f [n, c]: ℓ_n = logsumexp(f_n) − f_n[y_n], ∂ℓ_n/∂f_n = softmax(f_n) − e_{y_n}.
 * Soft labels (class probabilities y [n, c], torch ≥ 1.10): ℓ_n = −Σ_c y_c log softmax_c,
 * ∂ℓ_n/∂f_n = softmax(f_n)·Σ_c y_c − y_n.
 */
import { tf } from '../../core/tf.ts';
import { ShapeError } from '../../errors/index.ts';
import { classLabels, floatTargets } from './targets.ts';
import type { LossMath } from './types.ts';

const requireVectorOutput = (outShape: number[]) => {
  if (outShape.length !== 1) throw new ShapeError(`CrossEntropyLoss needs network output [N, C], got [N, ${outShape.join(', ')}]`);
  return outShape[0];
};

export const crossEntropy: LossMath = {
  kind: 'CrossEntropyLoss',
  targets(y, outShape, label) {
    const classes = requireVectorOutput(outShape);
    const n = y.shape[0];
    if (y.shape.length === 2 && (y.dtype === 'float32' || y.dtype === 'float64')) {
      return tf.tensor2d(floatTargets(y, [n, classes], label, 'CrossEntropyLoss'), [n, classes]);
    }
    return tf.tensor1d(classLabels(y, n, classes, label), 'int32');
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
};
