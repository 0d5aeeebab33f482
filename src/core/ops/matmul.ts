/**
 * Products with transposed operands. NOTE: on wasm a matMul with transposeA/transposeB runs at
 * ~2 GFLOP/s against ~25 for an explicit transpose followed by a plain matMul (../shared/STACK.md),
 * so there the transpose is materialised; every other backend (native's BLAS above all) takes the
 * flags directly and never copies.
 */
import { tf } from '../tf.ts';

export function matMulT(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, transposeA, transposeB);
  const t = (x: tf.Tensor) => x.transpose([...x.shape.keys()].map((d, _, all) => (d < all.length - 2 ? d : d === all.length - 2 ? all.length - 1 : all.length - 2)));
  return tf.matMul(transposeA ? t(a) : a, transposeB ? t(b) : b);
}
