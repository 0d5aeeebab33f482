/**
 * Conv2d through tfjs's own conv2d kernel on wasm (XNNPACK), in NHWC. The weight gradient and the
 * input Jacobian of a stride-1, undilated, ungrouped conv are themselves convolutions:
 *   dW[o,c,i,j] = Σ_{n,p,q} g[n,o,p,q]·x̃[n,c,p+i,q+j]  — a conv of x̃ (batch c, channels n) with g;
 *   dx = g (padded by K−1−pad) correlated with W flipped in space, channels swapped.
 * NOTE: measured on wasm, conv2d beats unfold + matMul 2–7× for these; Conv2DBackpropInput (what
 * tf.conv2dTranspose uses) is slower than either, so it is never used.
 * Shapes: x [n, c, h, w], V [v, n, o, ho, wo], W [o, c, kh, kw].
 */
import { tf } from '../tf.ts';
import type { ConvCfg } from './conv.ts';
import { derivedTensor } from './derived.ts';
import type { Layer } from './types.ts';

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];

/** The fast paths apply: wasm, ungrouped, stride 1, no dilation, padding below the kernel size. */
export function xnnStride1(layer: Layer<ConvCfg>): boolean {
  const { geom, groups } = layer.cfg;
  return (
    tf.getBackend() === 'wasm' &&
    groups === 1 &&
    geom.stride.every((s) => s === 1) &&
    geom.dilation.every((d) => d === 1) &&
    geom.padLo.every((p, d) => p <= geom.kernel[d] - 1) &&
    geom.padHi.every((p, d) => p <= geom.kernel[d] - 1)
  );
}

/**
 * The forward fast path applies: wasm, ungrouped, and not both strided and dilated. NOTE: tfjs's
 * conv2d asserts "Either strides or dilations must be 1" although torch (and the unfold path)
 * take both; such layers use the generic path.
 */
export function xnnForward(layer: Layer<ConvCfg>): boolean {
  const { geom, groups } = layer.cfg;
  return tf.getBackend() === 'wasm' && groups === 1 && (geom.stride.every((s) => s === 1) || geom.dilation.every((d) => d === 1));
}

/** Forward, any padding, strided or dilated (groups = 1; see xnnForward). */
export function xnnConv2d(layer: Layer<ConvCfg>, x: tf.Tensor): tf.Tensor {
  const { geom } = layer.cfg;
  const filter = derivedTensor(layer, 'weight.HWIO', layer.params.weight!, (w) => w.transpose([2, 3, 1, 0])) as tf.Tensor4D;
  const pad: Pad4 = [[0, 0], [geom.padLo[0], geom.padHi[0]], [geom.padLo[1], geom.padHi[1]], [0, 0]];
  let y = tf.conv2d(x.transpose([0, 2, 3, 1]) as tf.Tensor4D, filter, geom.stride as [number, number], pad, 'NHWC', geom.dilation as [number, number]);
  if (layer.params.bias) y = y.add(layer.params.bias);
  return y.transpose([0, 3, 1, 2]);
}

/** Σ_n of the weight Jacobianᵀ: V [v, n, o, ho, wo] → [v, o, c, kh, kw]. */
export function xnnConv2dWeightGrad(layer: Layer<ConvCfg>, x: tf.Tensor, V: tf.Tensor): tf.Tensor {
  const { geom, cin, cout } = layer.cfg;
  const [v, n] = V.shape as number[];
  const [ho, wo] = geom.outSize;
  const padded = tf.pad(x, [[0, 0], [0, 0], [geom.padLo[0], geom.padHi[0]], [geom.padLo[1], geom.padHi[1]]]);
  const input = padded.transpose([1, 2, 3, 0]) as tf.Tensor4D; // [c, hp, wp, n]
  const filter = V.reshape([v, n, cout, ho, wo]).transpose([3, 4, 1, 0, 2]).reshape([ho, wo, n, v * cout]) as tf.Tensor4D;
  const out = tf.conv2d(input, filter, 1, 'valid'); // [c, kh, kw, v·o]
  const [kh, kw] = geom.kernel;
  return out.reshape([cin, kh, kw, v, cout]).transpose([3, 4, 0, 1, 2]);
}

/** Input Jacobianᵀ: V [v, n, o, ho, wo] → [v, n, c, h, w]. */
export function xnnConv2dJacT(layer: Layer<ConvCfg>, V: tf.Tensor): tf.Tensor {
  const { geom, cin, cout } = layer.cfg;
  const [v, n] = V.shape as number[];
  const [ho, wo] = geom.outSize;
  const [kh, kw] = geom.kernel;
  const flipped = derivedTensor(layer, 'weight.flipped.HWOI', layer.params.weight!, (w) => w.reverse([2, 3]).transpose([2, 3, 0, 1])) as tf.Tensor4D;
  const g = V.reshape([v * n, cout, ho, wo]).transpose([0, 2, 3, 1]) as tf.Tensor4D;
  const pad: Pad4 = [[0, 0], [kh - 1 - geom.padLo[0], kh - 1 - geom.padHi[0]], [kw - 1 - geom.padLo[1], kw - 1 - geom.padHi[1]], [0, 0]];
  const dx = tf.conv2d(g, flipped, 1, pad); // [v·n, h, w, c]
  return dx.transpose([0, 3, 1, 2]).reshape([v, n, cin, ...geom.inSize]);
}
