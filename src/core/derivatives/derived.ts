/** Tensors computed from a layer's parameters once per network (parameters never change in a job). */
import { tf } from '../tf.ts';
import type { Layer } from './types.ts';

const sources = new WeakMap<tf.Tensor, tf.Tensor>();

/** A layer copy with substituted parameters carries this map: nothing is cached for it. */
export const UNCACHED: Map<string, tf.Tensor> = new Map();

/**
 * `compute(source)`, cached on the layer while `source` is the tensor the network was built with.
 * Under a gradient tape (tf.grad in the autodiff oracles) or for a substituted parameter it is
 * computed fresh and not cached, so gradients still flow through it.
 */
export function derivedTensor(layer: Layer<unknown>, key: string, source: tf.Tensor, compute: (source: tf.Tensor) => tf.Tensor): tf.Tensor {
  const recording = (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
  if (recording || layer.derived === UNCACHED || (layer.params.weight !== source && layer.params.bias !== source)) return compute(source);
  const cached = layer.derived.get(key);
  if (cached && !cached.isDisposed && sources.get(cached) === source) return cached;
  // NOTE: kept out of every tidy scope; disposeNetwork frees it with the parameters.
  const value = tf.keep(tf.tidy(() => compute(source)));
  sources.set(value, source);
  layer.derived.set(key, value);
  return value;
}
