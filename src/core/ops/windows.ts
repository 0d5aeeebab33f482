/**
 * im2col (`unfold`) and its adjoint col2im (`fold`) for N-d sliding windows, plus max pooling and
 * its Jacobians: backpack-ts's own kernels (kernel-names.ts), one implementation per backend
 * (native: device kernels; cpu and wasm: host loops, ./host/). Gradients are
 * registered (window-gradients.ts), so tf.grad differentiates through them on every backend.
 * Shapes: x [B, C, *in]; columns [C·K, B·P] (rows c·K + k); samples [B, C·K, P]; patches [B, G, P, Cg·K].
 */
import { tf } from '../tf.ts';
import type { WindowGeometry } from '../../nn/geometry.ts';
import { FOLD, MAX_POOL, MAX_POOL_JAC_T, MAX_POOL_JVP, UNFOLD, type FoldAttrs, type UnfoldAttrs, type UnfoldLayout } from './kernel-names.ts';
import './host/window-kernels.ts';
import './window-gradients.ts';

type Attrs = Parameters<ReturnType<typeof tf.engine>['runKernel']>[2];
const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: object) => tf.engine().runKernel(name, inputs, attrs as Attrs) as tf.Tensor;

export function unfold(x: tf.Tensor, g: WindowGeometry, layout: UnfoldLayout, groups = 1): tf.Tensor {
  return run(UNFOLD, { x }, { geom: g, layout, groups } satisfies UnfoldAttrs);
}

/** x [B, C, *in] → columns [C·K, B·P]: one 2-D matMul with the weight then serves every sample. */
export const unfoldColumns = (x: tf.Tensor, g: WindowGeometry) => unfold(x, g, 'columns');

/** x [B, C, *in] → [B, G, P, Cg·K]: the layout whose batched matMul needs no transpose. */
export const unfoldPatchesFirst = (x: tf.Tensor, g: WindowGeometry, groups: number) => unfold(x, g, 'patches', groups);

/** The adjoint of `unfoldColumns`: [C·K, B·P] → [B, C, *in]. */
export function foldColumns(cols: tf.Tensor, g: WindowGeometry, C: number, B: number): tf.Tensor {
  return run(FOLD, { cols }, { geom: g, layout: 'columns', channels: C, batch: B } satisfies FoldAttrs);
}

/** Max pooling: x [B, C, *in] → [B, C, *out] (windows padded with −inf, as torch does). */
export function maxPool(x: tf.Tensor, g: WindowGeometry): tf.Tensor {
  // XNNPACK's max pool (NHWC) for the common 2-D case on wasm: square kernel and stride, symmetric
  // padding, no dilation. NOTE: only the forward value; wasm's MaxPoolWithArgmax/MaxPoolGrad are
  // wrong for some windows in tfjs 4.22, and its MaxPool corrupted the wasm heap for a kernel
  // [3, 2] with stride [2, 1] (measured), so anything else and the backward pass use our kernels.
  if (tf.getBackend() === 'wasm' && g.inSize.length === 2 && !tapeOn()) {
    const square = g.kernel[0] === g.kernel[1] && g.stride[0] === g.stride[1];
    const symmetric = g.padLo.every((p, d) => p === g.padHi[d] && p === g.padLo[0]);
    if (square && symmetric && g.dilation.every((d) => d === 1)) {
      const y = tf.maxPool(x.transpose([0, 2, 3, 1]) as tf.Tensor4D, g.kernel as [number, number], g.stride as [number, number], g.padLo[0]);
      return y.transpose([0, 3, 1, 2]);
    }
  }
  return run(MAX_POOL, { x }, { geom: g });
}

/** Max pooling's Jacobianᵀ: V [v, B, C, *out] → [v, B, C, *in], to each window's first maximum. */
export const maxPoolJacT = (x: tf.Tensor, g: WindowGeometry, V: tf.Tensor) => run(MAX_POOL_JAC_T, { x, V }, { geom: g });

/** Max pooling's forward-mode Jacobian: V [B, C, *in] → [B, C, *out] (V read at each window's first maximum). */
export const maxPoolJvp = (x: tf.Tensor, g: WindowGeometry, V: tf.Tensor) => run(MAX_POOL_JVP, { x, V }, { geom: g });

/** Inside tf.grad the XNNPACK pool would need wasm's (wrong) MaxPoolGrad: take our kernel. */
const tapeOn = () => (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
