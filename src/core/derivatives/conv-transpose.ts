/**
 * ConvTransposeNd: the adjoint of ConvNd. Columns cols[n, (c_out,k), p] = Σ_c W[c, c_out, k]·x[n, c, p]
 * are folded (col2im) onto the output grid; the conv geometry lives on the *output* grid.
 * Shapes: x [n, c_in, *in], y [n, c_out, *out], W [c_in, c_out/G, *k], b [c_out]; P = Π in.
 */
import { tf } from '../tf.ts';
import { ModelSpecError } from '../../errors/index.ts';
import { expand, prod, windowGeometry, type WindowGeometry } from '../../nn/geometry.ts';
import type { SpecOf } from '../../nn/spec.ts';
import { matMulT } from '../ops/matmul.ts';
import { foldColumns, unfoldColumns, unfoldPatchesFirst } from '../ops/windows.ts';
import { affineModule } from './affine.ts';
import { biasJacT, checkChannels } from './conv-common.ts';
import type { Layer, ModuleMath } from './types.ts';

export interface ConvTransposeCfg {
  /** Geometry of the equivalent conv on the output grid: its inSize is our output, its outSize our input. */
  geom: WindowGeometry;
  groups: number;
  cin: number;
  cout: number;
}

type Kind = 'ConvTranspose1d' | 'ConvTranspose2d' | 'ConvTranspose3d';

function setup(spec: SpecOf<Kind>, inShape: number[], where: string, dims: number) {
  checkChannels(spec, inShape, where, dims);
  const kernel = expand(spec.kernel_size, dims, `${where}.kernel_size`);
  const stride = expand(spec.stride, dims, `${where}.stride`);
  const dilation = expand(spec.dilation, dims, `${where}.dilation`);
  const padding = expand(spec.padding, dims, `${where}.padding`);
  const outPad = expand(spec.output_padding, dims, `${where}.output_padding`);
  outPad.forEach((op, d) => {
    if (op >= stride[d] && op >= dilation[d]) {
      throw new ModelSpecError(`${where}: output_padding ${op} must be smaller than stride ${stride[d]} or dilation ${dilation[d]}`);
    }
  });
  const inSize = inShape.slice(1);
  const outSize = inSize.map((n, d) => (n - 1) * stride[d] - 2 * padding[d] + dilation[d] * (kernel[d] - 1) + outPad[d] + 1);
  const geom = windowGeometry(outSize, kernel, stride, dilation, padding, padding, where);
  const weight = [spec.in_channels, spec.out_channels / spec.groups, ...kernel];
  return {
    outShape: [spec.out_channels, ...outSize],
    cfg: { geom: { ...geom, outSize: inSize }, groups: spec.groups, cin: spec.in_channels, cout: spec.out_channels },
    params: spec.bias ? { weight, bias: [spec.out_channels] } : { weight },
  };
}

/**
 * Σ_n Σ_x u_nx u_nxᵀ [c_in·K, c_in·K] of the input unfolded the transposed way: u_nx[(c, k)] =
 * x_n[c, p] where output position x = p·stride − padding + k·dilation (0 where no p lands there),
 * so the weight gradient (swapped channels) is Σ_x g_x u_xᵀ. Built as a transposed convolution
 * with one-hot weights (every (c, k) its own output channel) over the real output grid; BackPACK
 * unfolds with output_padding = 0, so the two agree when output_padding is 0.
 */
function transposedInputGram(layer: Layer<ConvTransposeCfg>, x: tf.Tensor): tf.Tensor {
  const { geom, cin } = layer.cfg;
  const B = x.shape[0];
  const K = prod(geom.kernel);
  const P = prod(geom.outSize);
  // Columns ((c, k'), k) × (b, p): x[b, c, p] where k = k' (the one-hot weight), else 0.
  const xs = x.reshape([B, cin, P]).transpose([1, 0, 2]).reshape([cin, 1, 1, B * P]);
  const cols = xs.mul(tf.eye(K).reshape([1, K, K, 1])).reshape([cin * K * K, B * P]);
  const unfolded = foldColumns(cols, geom, cin * K, B).reshape([B, cin * K, -1]); // [b, c·K, X]
  const flat = unfolded.transpose([1, 0, 2]).reshape([cin * K, -1]);
  return matMulT(flat, flat, false, true);
}

/** W [c_in, c_out/G, *k] → [G, c_g, o_g·K]. */
const groupedWeight = (layer: Layer<ConvTransposeCfg>) => layer.params.weight!.reshape([layer.cfg.groups, layer.cfg.cin / layer.cfg.groups, -1]);

export function makeConvTranspose<K extends Kind>(dims: number): ModuleMath<K, ConvTransposeCfg> {
  return affineModule({
    setup: (spec, inShape, where) => setup(spec, inShape, where, dims),

    forward(layer, x) {
      const { geom, groups: G, cin, cout } = layer.cfg;
      const B = x.shape[0];
      const P = prod(geom.outSize);
      const xs = x.reshape([B, G, cin / G, P]).transpose([1, 2, 0, 3]).reshape([G, cin / G, B * P]);
      const cols = tf.matMul(groupedWeight(layer).transpose([0, 2, 1]), xs); // [G, o_g·K, b·P]
      let y = foldColumns(cols.reshape([-1, B * P]), geom, cout, B);
      if (layer.params.bias) y = y.add(layer.params.bias.reshape([1, cout, ...geom.inSize.map(() => 1)]));
      return y;
    },

    jacTMatProd(layer, _x, _y, V) {
      const { geom, groups: G, cin, cout } = layer.cfg;
      const [v, n] = V.shape;
      const B = v * n;
      const P = prod(geom.outSize);
      const ct = unfoldColumns(V.reshape([B, cout, ...geom.inSize]), geom).reshape([G, -1, B * P]); // [G, o_g·K, b·P]
      const xs = tf.matMul(groupedWeight(layer), ct); // [G, c_g, b·P]
      return xs.reshape([G, cin / G, B, P]).transpose([2, 0, 1, 3]).reshape([v, n, cin, ...geom.outSize]);
    },

    paramJacT: {
      weight: (layer, x, V, sumBatch) => {
        const { geom, groups: G, cin, cout } = layer.cfg;
        const [v, N] = V.shape;
        const P = prod(geom.outSize);
        const cg = cin / G;
        const patches = unfoldPatchesFirst(V.reshape([v * N, cout, ...geom.inSize]), geom, G); // [v·n, G, P, o_g·K]
        const wShape = layer.params.weight!.shape;
        if (sumBatch) {
          const xs = x.reshape([N, G, cg, P]).transpose([1, 2, 0, 3]).reshape([G, cg, N * P]);
          const pt = patches.reshape([v, N, G, P, -1]).transpose([2, 1, 3, 0, 4]).reshape([G, N * P, -1]);
          return tf.matMul(xs, pt).reshape([G, cg, v, -1]).transpose([2, 0, 1, 3]).reshape([v, ...wShape]);
        }
        const xs = x.reshape([1, N, G, cg, P]);
        const xv = v === 1 ? xs : tf.tile(xs, [v, 1, 1, 1, 1]);
        const out = tf.matMul(xv.reshape([v * N * G, cg, P]), patches.reshape([v * N * G, P, -1]));
        return out.reshape([v, N, ...wShape]);
      },
      bias: biasJacT,
    },

    jacobianStructure: () => ({ kind: 'shared' }),
    // As BackPACK (its extensions/secondorder/hbp/conv_transposend.py): B ⊗ A approximates the
    // curvature of the weight with its channel axes swapped, weight.transpose(0, 1) [c_out, c_in, *k],
    // flattened as [c_out, c_in·K].
    kronecker: (layer) =>
      layer.cfg.groups > 1
        ? { refused: 'grouped transposed convolutions (groups > 1) have no Kronecker-factored curvature: the weight is block-diagonal over groups, not one B ⊗ A' }
        : { outputAxis: 'channel', inputFactorSum: transposedInputGram },
  });
}
