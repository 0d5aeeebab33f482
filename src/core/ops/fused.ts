/**
 * Runs one of backpack-ts's custom kernels (kernel-names.ts), and tells whether the active backend
 * has a kernel at all: fused convolutions exist on native only; elsewhere the math composes tf ops.
 */
import { tf } from '../tf.ts';

const { getKernel } = tf;

type Attrs = Parameters<ReturnType<typeof tf.engine>['runKernel']>[2];

export function runKernel(name: string, inputs: Record<string, tf.Tensor | undefined>, attrs: object): tf.Tensor {
  const present = Object.fromEntries(Object.entries(inputs).filter(([, t]) => t !== undefined)) as Record<string, tf.Tensor>;
  return tf.engine().runKernel(name, present, attrs as Attrs) as tf.Tensor;
}

/** A custom kernel with several outputs, in the kernel's order. */
export function runKernelOutputs(name: string, inputs: Record<string, tf.Tensor>, attrs: object): tf.Tensor[] {
  return tf.engine().runKernel(name, inputs, attrs as Attrs) as unknown as tf.Tensor[];
}

/** True when the active backend registers `name` (and no gradient tape needs a differentiable path). */
export function hasKernel(name: string): boolean {
  const recording = (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
  return !recording && getKernel(name, tf.getBackend()) !== undefined;
}
