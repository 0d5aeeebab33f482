/**
 * Sums over the leading axes of a tensor. NOTE: wasm's Sum over axis 0 of a 5-D tensor runs ~10×
 * slower than over the same data viewed as 2-D (measured: [128,128,96,3,3] 1071 ms vs 108 ms), so
 * the leading axes are flattened first.
 */
import { tf } from '../tf.ts';

export function sumLeading(t: tf.Tensor, axes = 1): tf.Tensor {
  const shape = t.shape as number[];
  const lead = shape.slice(0, axes).reduce((a, b) => a * b, 1);
  return t.reshape([lead, -1]).sum(0).reshape(shape.slice(axes));
}
