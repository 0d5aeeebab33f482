/**
 * ConvNd (1d/2d/3d): y[n, o, p] = Σ_{c,k} W[o, c, k] · unfold(x)[n, (c,k), p] + b[o], per group g.
 * Shapes: x [n, c_in, *in], y [n, c_out, *out], W [c_out, c_in/G, *k], b [c_out];
 * unfolded columns [n, c_in·K, P] with K = Π kernel, P = Π out.
 */
import { tf } from '../tf.ts';
import { ModelSpecError } from '../../errors/index.ts';
import { expand, prod, samePadding, windowGeometry, type WindowGeometry } from '../../nn/geometry.ts';
import type { SpecOf } from '../../nn/spec.ts';
import { hasKernel, runKernel } from '../ops/fused.ts';
import { CONV_FORWARD, CONV_INPUT_GRAM, CONV_INPUT_JAC_T, CONV_WEIGHT_GRAD, CONV_WEIGHT_JAC, CONV_WEIGHT_SQUARES, type ConvAttrs } from '../ops/kernel-names.ts';
import { matMulT } from '../ops/matmul.ts';
import { foldColumns, unfoldColumns, unfoldPatchesFirst } from '../ops/windows.ts';
import { affineModule } from './affine.ts';
import { biasJacT, checkChannels } from './conv-common.ts';
import { xnnConv2d, xnnConv2dJacT, xnnConv2dWeightGrad, xnnForward, xnnStride1 } from './conv2d-xnn.ts';
import type { Layer, ModuleMath } from './types.ts';

export interface ConvCfg {
  geom: WindowGeometry;
  groups: number;
  cin: number;
  cout: number;
}

type ConvKind = 'Conv1d' | 'Conv2d' | 'Conv3d';

function setupConv(spec: SpecOf<ConvKind>, inShape: number[], where: string, dims: number) {
  checkChannels(spec, inShape, where, dims);
  const kernel = expand(spec.kernel_size, dims, `${where}.kernel_size`);
  const stride = expand(spec.stride, dims, `${where}.stride`);
  const dilation = expand(spec.dilation, dims, `${where}.dilation`);
  let padLo: number[];
  let padHi: number[];
  if (spec.padding === 'same') {
    if (stride.some((s) => s !== 1)) throw new ModelSpecError(`${where}: padding='same' requires stride 1 (as in torch), got stride [${stride}]`);
    ({ lo: padLo, hi: padHi } = samePadding(kernel, dilation));
  } else if (spec.padding === 'valid') {
    padLo = padHi = Array(dims).fill(0);
  } else {
    padLo = padHi = expand(spec.padding, dims, `${where}.padding`);
  }
  const geom = windowGeometry(inShape.slice(1), kernel, stride, dilation, padLo, padHi, where);
  const weight = [spec.out_channels, spec.in_channels / spec.groups, ...kernel];
  return {
    outShape: [spec.out_channels, ...geom.outSize],
    cfg: { geom, groups: spec.groups, cin: spec.in_channels, cout: spec.out_channels },
    params: spec.bias ? { weight, bias: [spec.out_channels] } : { weight },
  };
}

/** W [c_out, c_in/G, *k] → [G, o_g, c_g·K]. */
const groupedWeight = (layer: Layer<ConvCfg>) => {
  const { groups: G, cout } = layer.cfg;
  return layer.params.weight!.reshape([G, cout / G, -1]);
};

/** [G, rows, b·P] → [b, G·rows, P]: the inverse arrangement. */
const columnsToSamples = (m: tf.Tensor, B: number, P: number) => {
  const [G, rows] = m.shape;
  return m.reshape([G, rows, B, P]).transpose([2, 0, 1, 3]).reshape([B, G * rows, P]);
};

/** Attributes of the fused convolution kernels for a layer (native backend). */
const convAttrs = (layer: Layer<ConvCfg>, mode?: ConvAttrs['mode']): ConvAttrs => ({ geom: layer.cfg.geom, groups: layer.cfg.groups, mode });

/** Σ_n Σ_p u_np u_npᵀ of the unfolded input [c·K, c·K] (Ω in Grosse & Martens 2016). */
function inputGram(layer: Layer<ConvCfg>, x: tf.Tensor): tf.Tensor {
  const { geom, groups } = layer.cfg;
  // Native streams Σ_n U_n U_nᵀ per sample; elsewhere one product of the unfolded shard.
  if (hasKernel(CONV_INPUT_GRAM)) return runKernel(CONV_INPUT_GRAM, { x }, { geom, groups });
  const flat = unfoldColumns(x, geom); // [c·K, n·P]
  return matMulT(flat, flat, false, true);
}

export function makeConv<K extends ConvKind>(dims: number): ModuleMath<K, ConvCfg> {
  return affineModule({
    setup: (spec, inShape, where) => setupConv(spec, inShape, where, dims),

    forward(layer, x) {
      const { geom, groups: G, cout } = layer.cfg;
      const B = x.shape[0];
      if (hasKernel(CONV_FORWARD)) return runKernel(CONV_FORWARD, { x, W: layer.params.weight!, bias: layer.params.bias }, convAttrs(layer));
      if (dims === 2 && xnnForward(layer)) return xnnConv2d(layer, x);
      const P = prod(geom.outSize);
      const cols = unfoldColumns(x, geom).reshape([G, -1, B * P]);
      let y = columnsToSamples(tf.matMul(groupedWeight(layer), cols), B, P);
      if (layer.params.bias) y = y.add(layer.params.bias.reshape([1, cout, 1]));
      return y.reshape([B, cout, ...geom.outSize]);
    },

    jacTMatProd(layer, _x, _y, V) {
      const { geom, groups: G, cin, cout } = layer.cfg;
      const [v, n] = V.shape;
      if (hasKernel(CONV_INPUT_JAC_T)) {
        const flat = V.reshape([v * n, cout, ...geom.outSize]);
        return runKernel(CONV_INPUT_JAC_T, { V: flat, W: layer.params.weight! }, convAttrs(layer)).reshape([v, n, cin, ...geom.inSize]);
      }
      if (dims === 2 && xnnStride1(layer)) return xnnConv2dJacT(layer, V);
      const B = v * n;
      const P = prod(geom.outSize);
      const vCols = V.reshape([B, G, cout / G, P]).transpose([1, 2, 0, 3]).reshape([G, cout / G, B * P]);
      const cols = tf.matMul(groupedWeight(layer).transpose([0, 2, 1]), vCols); // [G, c_g·K, b·P]
      return foldColumns(cols.reshape([-1, B * P]), geom, cin, B).reshape([v, n, cin, ...geom.inSize]);
    },

    paramJacT: {
      weight: (layer, x, V, sumBatch) => {
        const { geom, groups: G, cout } = layer.cfg;
        const v = V.shape[0];
        const N = x.shape[0];
        const P = prod(geom.outSize);
        const og = cout / G;
        const wShape = layer.params.weight!.shape;
        if (sumBatch && hasKernel(CONV_WEIGHT_GRAD)) return runKernel(CONV_WEIGHT_GRAD, { x, V }, convAttrs(layer));
        if (!sumBatch && hasKernel(CONV_WEIGHT_JAC)) return runKernel(CONV_WEIGHT_JAC, { x, V }, convAttrs(layer));
        if (sumBatch && dims === 2 && xnnStride1(layer)) return xnnConv2dWeightGrad(layer, x, V);
        if (sumBatch) {
          // Σ_{n,p} V[v,n,o,p]·U[ck,(n,p)] as U @ Vᵀ: both operands untransposed for wasm's fast matMul.
          const cols = unfoldColumns(x, geom).reshape([G, -1, N * P]); // [G, c_g·K, n·P]
          const vt = V.reshape([v, N, G, og, P]).transpose([2, 1, 4, 0, 3]).reshape([G, N * P, v * og]);
          return tf.matMul(cols, vt).reshape([G, -1, v, og]).transpose([2, 0, 3, 1]).reshape([v, ...wShape]);
        }
        const patches = unfoldPatchesFirst(x, geom, G); // [n, G, P, c_g·K]
        if (tf.getBackend() === 'wasm') return perSampleLoop(V.reshape([v, N * G, og, P]), patches.dataSync() as Float32Array, N * G, P).reshape([v, N, ...wShape]);
        const pv = v === 1 ? patches : tf.tile(patches.reshape([1, N, G, P, -1]), [v, 1, 1, 1, 1]);
        const out = tf.matMul(V.reshape([v * N * G, og, P]), pv.reshape([v * N * G, P, -1]));
        return out.reshape([v, N, ...wShape]);
      },
      bias: biasJacT,
    },

    paramSquares: {
      // Native: streamed per sample, the Jacobians never stored; elsewhere null (from the Jacobians).
      weight: (layer, x, V, mode, shift) => (hasKernel(CONV_WEIGHT_SQUARES) ? runKernel(CONV_WEIGHT_SQUARES, { x, V, shift }, convAttrs(layer, mode)) : null),
    },

    jacobianStructure: () => ({ kind: 'shared' }),
    kronecker: (layer) =>
      layer.cfg.groups > 1
        ? { refused: 'grouped convolutions (groups > 1) have no Kronecker-factored curvature: the weight is block-diagonal over groups, not one B ⊗ A' }
        : { outputAxis: 'channel', inputFactorSum: inputGram },
  });
}


/**
 * Per-sample weight Jacobians as a loop of 2-D matMuls V_i [o, P] @ patches_i [P, ck] over host
 * views. NOTE: on wasm a batched matMul runs at ~2 GFLOP/s and a loop of 2-D ones at ~10
 * (../shared/STACK.md). V: [v, m, o, P] with m = n·G; patches: m × [P, ck]. Returns [v, m, o, ck].
 */
function perSampleLoop(V: tf.Tensor, patches: Float32Array, m: number, P: number): tf.Tensor {
  const [v, , o] = V.shape as number[];
  const ck = patches.length / (m * P);
  const vd = V.dataSync() as Float32Array;
  const out = new Float32Array(v * m * o * ck);
  for (let i = 0; i < m; i++) {
    const pt = tf.tensor2d(patches.subarray(i * P * ck, (i + 1) * P * ck), [P, ck]);
    for (let j = 0; j < v; j++) {
      const row = j * m + i;
      const a = tf.tensor2d(vd.subarray(row * o * P, (row + 1) * o * P), [o, P]);
      const c = tf.matMul(a, pt);
      out.set(c.dataSync() as Float32Array, row * o * ck);
      a.dispose();
      c.dispose();
    }
    pt.dispose();
  }
  return tf.tensor(out, [v, m, o, ck]);
}
