/**
 * Squares of Linear's per-sample weight Jacobians without storing them ([v, n, o, i] would be
 * BatchGrad's whole output, per call). J_vn = V_vn x_nᵀ summed over the leading positions l.
 * - no leading dims (l = 1), BackPACK's rank-one identities: Σ_v,n J² = (Σ_v V²)ᵀ(x²) (one matMul),
 *   per-sample rows (Σ_v V_vn²) ⊗ x_n², norms (Σ_v ‖V_vn‖²)·‖x_n‖²;
 * - 'centred' and 'moments' (a variance's Σ (J − s) and Σ (J − s)²) and leading dims: a Linear layer is a 1-d
 *   convolution with a kernel of one over the l positions, so the fused convolution kernel streams
 *   the Jacobians through a chunk-sized scratch where a backend has it (native, cuda);
 * - null elsewhere: the caller squares the materialised Jacobians.
 */
import { tf } from '../tf.ts';
import { matMulT } from '../ops/matmul.ts';
import { hasKernel, runKernel } from '../ops/fused.ts';
import { CONV_WEIGHT_SQUARES, type ConvAttrs, type SquaresMode } from '../ops/kernel-names.ts';
import type { Layer } from './types.ts';
import type { LinearCfg } from './linear.ts';

export function linearWeightSquares(layer: Layer<LinearCfg>, x: tf.Tensor, V: tf.Tensor, mode: SquaresMode, shift?: tf.Tensor): tf.Tensor | null {
  const { inFeatures: I, outFeatures: O, lead: L } = layer.cfg;
  const [v, n] = [V.shape[0]!, x.shape[0]!];
  if (L === 1 && mode !== 'centred' && mode !== 'moments') {
    const vv = V.reshape([v, n, O]).square().sum(0); // [n, o]
    const xx = x.reshape([n, I]).square(); // [n, i]
    if (mode === 'sum') return matMulT(vv, xx, true, false);
    if (mode === 'rows') return vv.reshape([n, O, 1]).mul(xx.reshape([n, 1, I]));
    return vv.sum(1).mul(xx.sum(1));
  }
  if (!hasKernel(CONV_WEIGHT_SQUARES)) return null;
  const geom = { inSize: [L], kernel: [1], stride: [1], dilation: [1], padLo: [0], padHi: [0], outSize: [L] };
  const xc = L === 1 ? x.reshape([n, I, 1]) : x.reshape([n, L, I]).transpose([0, 2, 1]);
  const Vc = L === 1 ? V.reshape([v, n, O, 1]) : V.reshape([v, n, L, O]).transpose([0, 1, 3, 2]);
  const attrs: ConvAttrs = { geom, groups: 1, mode };
  const out = runKernel(CONV_WEIGHT_SQUARES, { x: xc, V: Vc, shift: shift?.reshape([O, I, 1]) }, attrs);
  if (mode === 'norms') return out;
  return out.reshape(mode === 'centred' ? [2, O, I] : mode === 'moments' ? [3, O, I] : mode === 'rows' ? [n, O, I] : [O, I]);
}
