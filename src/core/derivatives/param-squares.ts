/**
 * Squares of a parameter Jacobianᵀ (types.ts ParamSquares): through the module's own fast path
 * when it states one, else from the materialised Jacobian. Shapes: V [v, n, *out].
 */
import { tf } from '../tf.ts';
import { sumLeading } from '../ops/reduce-leading.ts';
import type { SquaresMode } from '../ops/kernel-names.ts';
import { mathOf } from './index.ts';
import type { Layer } from './types.ts';
import type { ParamName } from '../../vocabulary.ts';

export function paramSquares(layer: Layer, param: ParamName, x: tf.Tensor, V: tf.Tensor, mode: SquaresMode, shift?: tf.Tensor): tf.Tensor {
  const math = mathOf(layer.kind);
  const fast = math.paramSquares?.[param]?.(layer, x, V, mode, shift);
  if (fast) return fast;
  const J = math.paramJacT![param]!(layer, x, V, false); // [v, n, *θ]
  if (mode === 'moments') {
    const mean = sumLeading(J, 2).div(Math.max(1, J.shape[0]! * J.shape[1]!)); // 0 where there are no samples, as the kernel
    const c = J.sub(mean);
    return tf.stack([mean, sumLeading(c, 2), sumLeading(c.square(), 2)]);
  }
  const centred = shift ? J.sub(shift) : J;
  if (mode === 'centred') return tf.stack([sumLeading(centred, 2), sumLeading(centred.square(), 2)]);
  const sq = centred.square();
  if (mode === 'sum') return sumLeading(sq, 2);
  const rows = sumLeading(sq); // [n, *θ]
  return mode === 'rows' ? rows : rows.reshape([rows.shape[0]!, -1]).sum(1);
}
