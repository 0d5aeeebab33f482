/**
 * Forward passes vs tfjs's own kernels. Our convolutions and pools are gathers over precomputed
 * window maps (im2col/col2im); tf.conv2d, tf.conv2dTranspose, tf.maxPool, … are independent
 * implementations of the same maps, run on channels-last data with explicit zero padding.
 */
import { beforeAll, describe, it } from 'vitest';
import { mulberry32, randn, randomNetwork } from '../helpers/oracle.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { tf } from '../../src/core/tf.ts';
import { mathOf } from '../../src/core/derivatives/index.ts';
import { useBackend } from '../../src/backends/select.ts';
import { disposeNetwork, type Network } from '../../src/nn/network.ts';
import { numel } from '../../src/io/host-tensor.ts';

const RTOL = 1e-5;
const N = 2;

/** A one-layer network with random weights for input [N, *inShape]. */
function single(layer: Record<string, unknown>, inShape: number[], seed: number): Network {
  return randomNetwork({ input_shape: inShape, layers: [layer], loss: { type: 'MSELoss' } }, mulberry32(seed));
}

/** Runs our forward and the reference on the same input and compares. */
function check(spec: Record<string, unknown>, inShape: number[], reference: (x: tf.Tensor, w: tf.Tensor | undefined, b: tf.Tensor | undefined) => tf.Tensor, label: string, seed = 1) {
  const net = single(spec, inShape, seed);
  try {
    tf.tidy(() => {
      const layer = net.layers[0];
      const x = tf.tensor(randn(mulberry32(seed + 100), N * numel(inShape)), [N, ...inShape]);
      const ours = mathOf(layer.kind).forward(layer, x, { seed: 0, sampleIndex: Int32Array.from({ length: N }, (_, i) => i) });
      const ref = reference(x, layer.params.weight, layer.params.bias);
      expectClose(Array.from(ours.shape), Array.from(ref.shape), { rtol: 0, label: `${label}: shape` });
      expectClose(ours.dataSync(), ref.dataSync(), { rtol: RTOL, label });
    });
  } finally {
    disposeNetwork(net);
  }
}

const toLast = (x: tf.Tensor) => x.transpose([0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2), 1]);
const toFirst = (x: tf.Tensor) => x.transpose([0, x.rank - 1, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 1)]);
/** Zero padding (lo, hi) per spatial dim of channels-last data. */
const padLast = (x: tf.Tensor, pads: [number, number][]) => tf.pad(x, [[0, 0], ...pads, [0, 0]]);
const addBias = (y: tf.Tensor, b: tf.Tensor | undefined) => (b ? y.add(b) : y);
/** torch's padding='same': total d·(k−1), the extra unit after. */
const same = (k: number, d = 1): [number, number] => [Math.floor((d * (k - 1)) / 2), d * (k - 1) - Math.floor((d * (k - 1)) / 2)];

interface Conv2dCase {
  kernel: [number, number];
  stride: [number, number];
  dilation: [number, number];
  pads: [[number, number], [number, number]];
  padding: unknown;
}

const CONV2D: Record<string, Conv2dCase> = {
  'k3 stride 2 padding 1': { kernel: [3, 3], stride: [2, 2], dilation: [1, 1], pads: [[1, 1], [1, 1]], padding: 1 },
  'k[2,3] stride [1,2] padding [0,2]': { kernel: [2, 3], stride: [1, 2], dilation: [1, 1], pads: [[0, 0], [2, 2]], padding: [0, 2] },
  'k3 dilation 2 padding [1,2]': { kernel: [3, 3], stride: [1, 1], dilation: [2, 2], pads: [[1, 1], [2, 2]], padding: [1, 2] },
  "k[2,4] padding 'same' (asymmetric)": { kernel: [2, 4], stride: [1, 1], dilation: [1, 1], pads: [same(2), same(4)], padding: 'same' },
  "k[3,2] dilation [1,3] padding 'same'": { kernel: [3, 2], stride: [1, 1], dilation: [1, 3], pads: [same(3), same(2, 3)], padding: 'same' },
  "k2 padding 'valid'": { kernel: [2, 2], stride: [1, 1], dilation: [1, 1], pads: [[0, 0], [0, 0]], padding: 'valid' },
};

/** Backends and the tf kernels each reference needs; a reference is skipped where one is missing. */
const hasKernels = (...names: string[]) => names.every((k) => tf.getKernel(k, tf.getBackend()) != null);

describe.each(['cpu', 'wasm'])('forward vs tfjs kernels on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each(Object.keys(CONV2D))('Conv2d %s vs tf.conv2d', (name) => {
    const c = CONV2D[name];
    const spec = { type: 'Conv2d', in_channels: 3, out_channels: 4, kernel_size: c.kernel, stride: c.stride, dilation: c.dilation, padding: c.padding };
    check(spec, [3, 7, 8], (x, w, b) => toFirst(addBias(tf.conv2d(padLast(toLast(x), c.pads) as tf.Tensor4D, w!.transpose([2, 3, 1, 0]) as tf.Tensor4D, c.stride, 'valid', 'NHWC', c.dilation), b)), name);
  });

  it('Conv2d groups = in_channels (depthwise, multiplier 2) vs tf.depthwiseConv2d', () => {
    const spec = { type: 'Conv2d', in_channels: 3, out_channels: 6, kernel_size: [3, 2], groups: 3, padding: [1, 0], dilation: [1, 2] };
    // torch W [c·m, 1, kh, kw] (output channel c·m + j) → tf [kh, kw, c, m].
    check(spec, [3, 6, 7], (x, w, b) => {
      const filt = w!.reshape([3, 2, 3, 2]).transpose([2, 3, 0, 1]) as tf.Tensor4D;
      return toFirst(addBias(tf.depthwiseConv2d(padLast(toLast(x), [[1, 1], [0, 0]]) as tf.Tensor4D, filt, 1, 'valid', 'NHWC', [1, 2]), b));
    }, 'depthwise');
  });

  it.each([
    ['k3 stride 2 padding 1', { kernel_size: 3, stride: 2, padding: 1 }, [1, 1], 2, 1],
    ['k2 dilation 3 padding 2', { kernel_size: 2, dilation: 3, padding: 2 }, [2, 2], 1, 3],
    ["k4 padding 'same'", { kernel_size: 4, padding: 'same' }, same(4), 1, 1],
  ] as [string, Record<string, unknown>, [number, number], number, number][])('Conv1d %s vs tf.conv1d', (name, attrs, pads, stride, dilation) => {
    const spec = { type: 'Conv1d', in_channels: 2, out_channels: 3, ...attrs };
    check(spec, [2, 9], (x, w, b) => toFirst(addBias(tf.conv1d(padLast(toLast(x), [pads]) as tf.Tensor3D, w!.transpose([2, 1, 0]) as tf.Tensor3D, stride, 'valid', 'NWC', dilation), b)), name);
  });

  it.for([
    ['k[2,3,2] stride [1,2,2] padding [1,0,1]', { kernel_size: [2, 3, 2], stride: [1, 2, 2], padding: [1, 0, 1] }, [[1, 1], [0, 0], [1, 1]], [1, 2, 2], [1, 1, 1]],
    ['k2 dilation [2,1,2]', { kernel_size: 2, dilation: [2, 1, 2] }, [[0, 0], [0, 0], [0, 0]], [1, 1, 1], [2, 1, 2]],
    ["k[3,2,2] padding 'same'", { kernel_size: [3, 2, 2], padding: 'same' }, [same(3), same(2), same(2)], [1, 1, 1], [1, 1, 1]],
  ] as [string, Record<string, unknown>, [number, number][], [number, number, number], [number, number, number]][])('Conv3d %s vs tf.conv3d', ([name, attrs, pads, strides, dilations], ctx) => {
    if (!hasKernels('Conv3D')) ctx.skip();
    const spec = { type: 'Conv3d', in_channels: 2, out_channels: 3, ...attrs };
    check(spec, [2, 4, 5, 4], (x, w, b) => toFirst(addBias(tf.conv3d(padLast(toLast(x), pads) as tf.Tensor5D, w!.transpose([2, 3, 4, 1, 0]) as tf.Tensor5D, strides, 'valid', 'NDHWC', dilations), b)), name);
  });

  it.each([
    ['k3 stride 2', { kernel_size: 3, stride: 2 }, [2, 2], 0, 0],
    ['k[2,3] stride [1,2]', { kernel_size: [2, 3], stride: [1, 2] }, [1, 2], 0, 0],
    ['k3 stride 2 padding 1 output_padding 1 (cropped)', { kernel_size: 3, stride: 2, padding: 1, output_padding: 1 }, [2, 2], 1, 1],
  ] as [string, Record<string, unknown>, [number, number], number, number][])('ConvTranspose2d %s vs tf.conv2dTranspose', (name, attrs, strides, padding, outPad) => {
    const inShape = [3, 3, 4];
    const spec = { type: 'ConvTranspose2d', in_channels: 3, out_channels: 2, ...attrs };
    const k = typeof attrs.kernel_size === 'number' ? [attrs.kernel_size, attrs.kernel_size] : (attrs.kernel_size as number[]);
    // The full ('valid') transposed output, then torch's padding crops `padding` from each side.
    const full = inShape.slice(1).map((n, d) => (n - 1) * strides[d] + k[d]);
    const out = full.map((f) => f - 2 * padding + outPad);
    check(spec, inShape, (x, w, b) => {
      const y = tf.conv2dTranspose(toLast(x) as tf.Tensor4D, w!.transpose([2, 3, 1, 0]) as tf.Tensor4D, [N, full[0], full[1], 2], strides, 'valid');
      // output_padding ≤ padding here, so the extra row/column still lies inside the full output.
      return toFirst(addBias(tf.slice(y, [0, padding, padding, 0], [N, out[0], out[1], 2]), b));
    }, name);
  });

  it.each([
    ['k2', { kernel_size: 2 }, [2, 2], [2, 2]],
    ['k3 stride 1', { kernel_size: 3, stride: 1 }, [3, 3], [1, 1]],
    ['k[3,2] stride [2,1]', { kernel_size: [3, 2], stride: [2, 1] }, [3, 2], [2, 1]],
  ] as [string, Record<string, unknown>, [number, number], [number, number]][])('MaxPool2d/AvgPool2d %s vs tf.maxPool/tf.avgPool', (name, attrs, k, s) => {
    check({ type: 'MaxPool2d', ...attrs }, [2, 7, 6], (x) => toFirst(tf.maxPool(toLast(x) as tf.Tensor4D, k, s, 'valid')), `MaxPool2d ${name}`);
    check({ type: 'AvgPool2d', ...attrs }, [2, 7, 6], (x) => toFirst(tf.avgPool(toLast(x) as tf.Tensor4D, k, s, 'valid')), `AvgPool2d ${name}`);
  });

  it('MaxPool3d/AvgPool3d k[2,3,2] stride [1,2,2] vs tf.maxPool3d/tf.avgPool3d', (ctx) => {
    if (!hasKernels('MaxPool3D', 'AvgPool3D')) ctx.skip();
    const attrs = { kernel_size: [2, 3, 2], stride: [1, 2, 2] };
    const k: [number, number, number] = [2, 3, 2];
    const s: [number, number, number] = [1, 2, 2];
    check({ type: 'MaxPool3d', ...attrs }, [2, 3, 5, 4], (x) => toFirst(tf.maxPool3d(toLast(x) as tf.Tensor5D, k, s, 'valid')), 'MaxPool3d');
    check({ type: 'AvgPool3d', ...attrs }, [2, 3, 5, 4], (x) => toFirst(tf.avgPool3d(toLast(x) as tf.Tensor5D, k, s, 'valid')), 'AvgPool3d');
  });
});
