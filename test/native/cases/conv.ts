/**
 * The fused convolution kernels (native only) = the same math composed from tf ops on the cpu
 * backend: forward = unfold + matMul; input Jᵀ = matMul + fold; weight Jacobians and gradient =
 * patches + matMul; squares = the Jacobians (minus shift) squared and summed; Gram = columns ·
 * columnsᵀ. Over GEOMETRIES with groups 1, 2 and depthwise, with and without bias and shift.
 * Shapes: x [n, C, *in], W [O, C/G, *k], V [v, n, O, *out] (input Jᵀ: [m, O, *out]); θ = [O, C/G, *k].
 */
import { tf } from '../../../src/core/tf.ts';
import '../../../src/core/ops/host/window-kernels.ts';
import {
  CONV_FORWARD, CONV_INPUT_GRAM, CONV_INPUT_JAC_T, CONV_WEIGHT_GRAD, CONV_WEIGHT_JAC, CONV_WEIGHT_SQUARES, FOLD, UNFOLD,
  type ConvAttrs, type SquaresMode,
} from '../../../src/core/ops/kernel-names.ts';
import { prod, windowGeometry, type WindowGeometry } from '../../../src/nn/geometry.ts';
import type { Case } from '../harness.ts';
import { inp, rng, type Input } from '../inputs.ts';
import { GEOMETRIES } from './geometries.ts';
import { call } from './shape.ts';

const t = (x: unknown) => x as tf.Tensor;

/** [mean; M2] over the leading two axes ([v, n]) of J: what 'moments' mode's output stands for. */
function meanAndM2(J: tf.Tensor): tf.Tensor {
  const mean = J.mean([0, 1]);
  return tf.stack([mean, J.sub(mean).square().sum([0, 1])]);
}

/** 'moments' output [s; Σ (J − s); Σ (J − s)²] over m = v·n Jacobians → [mean; M2] = [s + S1/m; S2 − S1²/m]. */
function momentsToMeanAndM2(out: tf.Tensor, m: number): tf.Tensor {
  const [s, s1, s2] = tf.unstack(out);
  return tf.stack([s.add(s1.div(m)), s2.sub(s1.square().div(m))]);
}

/** The composite references, on whatever backend is active (the cpu one in the suite). */
export const reference = {
  forward(x: tf.Tensor, W: tf.Tensor, bias: tf.Tensor | undefined, g: WindowGeometry, G: number): tf.Tensor {
    const [n, C] = x.shape;
    const O = W.shape[0];
    const P = prod(g.outSize);
    const cols = t(call(UNFOLD, { x }, { geom: g, layout: 'columns', groups: 1 })).reshape([G, (C / G) * prod(g.kernel), n * P]);
    let y = tf.matMul(W.reshape([G, O / G, -1]), cols).reshape([G, O / G, n, P]).transpose([2, 0, 1, 3]).reshape([n, O, P]);
    if (bias) y = y.add(bias.reshape([1, O, 1]));
    return y.reshape([n, O, ...g.outSize]);
  },
  inputJacT(V: tf.Tensor, W: tf.Tensor, g: WindowGeometry, G: number): tf.Tensor {
    const [m, O] = V.shape;
    const C = W.shape[1]! * G;
    const P = prod(g.outSize);
    const vCols = V.reshape([m, G, O / G, P]).transpose([1, 2, 0, 3]).reshape([G, O / G, m * P]);
    const cols = tf.matMul(W.reshape([G, O / G, -1]), vCols, true, false).reshape([C * prod(g.kernel), m * P]);
    return t(call(FOLD, { cols }, { geom: g, layout: 'columns', channels: C, batch: m }));
  },
  /** [v, n, O, C/G, *k]. */
  weightJac(x: tf.Tensor, V: tf.Tensor, g: WindowGeometry, G: number): tf.Tensor {
    const [n, C] = x.shape;
    const [v, , O] = V.shape;
    const P = prod(g.outSize);
    const patches = t(call(UNFOLD, { x }, { geom: g, layout: 'patches', groups: G })); // [n, G, P, C/G·K]
    const pv = tf.tile(patches.reshape([1, n, G, P, -1]), [v, 1, 1, 1, 1]).reshape([v * n * G, P, -1]);
    return tf.matMul(V.reshape([v * n * G, O / G, P]), pv).reshape([v, n, O, C / G, ...g.kernel]);
  },
  squares(x: tf.Tensor, V: tf.Tensor, shift: tf.Tensor | undefined, g: WindowGeometry, G: number, mode: SquaresMode): tf.Tensor {
    const J = reference.weightJac(x, V, g, G);
    const sq = (shift ? J.sub(shift) : J).square();
    if (mode === 'centred') return tf.stack([(shift ? J.sub(shift) : J).sum([0, 1]), sq.sum([0, 1])]);
    if (mode === 'moments') return meanAndM2(J);
    if (mode === 'sum') return sq.sum([0, 1]);
    if (mode === 'rows') return sq.sum(0);
    return sq.reshape([V.shape[0], x.shape[0], -1]).sum([0, 2]);
  },
  inputGram(x: tf.Tensor, g: WindowGeometry): tf.Tensor {
    const cols = t(call(UNFOLD, { x }, { geom: g, layout: 'columns', groups: 1 }));
    return tf.matMul(cols, cols, false, true);
  },
};

/** [C, O, G]: plain, grouped, depthwise. */
const CHANNELS: [number, number, number][] = [[4, 6, 1], [4, 6, 2], [4, 4, 4]];
const n = 3;
const v = 2;

function convCases(geoms: [string, WindowGeometry][], samples: number, channels = CHANNELS): Case[] {
  const cases: Case[] = [];
  for (const [label, g] of geoms) {
    for (const [C, O, G] of channels) {
      const attrs = (mode?: SquaresMode): ConvAttrs => ({ geom: g, groups: G, mode });
      const at = `${label} C${C} O${O} G${G}${samples === n ? '' : ` n${samples}`}`;
      const x = inp([samples, C, ...g.inSize]);
      const W = inp([O, C / G, ...g.kernel]);
      const V = inp([v, samples, O, ...g.outSize]);
      const theta = [O, C / G, ...g.kernel];
      for (const withBias of G === 1 ? [false, true] : [true]) {
        cases.push({
          name: `forward ${at}${withBias ? ' bias' : ''}`,
          kernel: CONV_FORWARD,
          inputs: withBias ? [x, W, inp([O])] : [x, W],
          run: ([xx, w, b]) => call(CONV_FORWARD, b ? { x: xx, W: w, bias: b } : { x: xx, W: w }, attrs()),
          reference: ([xx, w, b]) => reference.forward(xx, w, b, g, G),
        });
      }
      cases.push({
        name: `inputJacT ${at}`,
        kernel: CONV_INPUT_JAC_T,
        inputs: [inp([v * samples, O, ...g.outSize]), W],
        run: ([vv, w]) => call(CONV_INPUT_JAC_T, { V: vv, W: w }, attrs()),
        reference: ([vv, w]) => reference.inputJacT(vv, w, g, G),
      });
      cases.push({
        name: `weightGrad ${at}`,
        kernel: CONV_WEIGHT_GRAD,
        inputs: [x, V],
        run: ([xx, vv]) => call(CONV_WEIGHT_GRAD, { x: xx, V: vv }, attrs()),
        reference: ([xx, vv]) => reference.weightJac(xx, vv, g, G).sum(1),
      });
      cases.push({
        name: `weightJac ${at}`,
        kernel: CONV_WEIGHT_JAC,
        inputs: [x, V],
        run: ([xx, vv]) => call(CONV_WEIGHT_JAC, { x: xx, V: vv }, attrs()),
        reference: ([xx, vv]) => reference.weightJac(xx, vv, g, G),
      });
      for (const mode of ['sum', 'rows', 'norms', 'centred', 'moments'] as SquaresMode[]) {
        for (const withShift of [false, true]) {
          if (mode === 'moments') {
            // The kernel finds the shift (the mean, rounded): compared as the mean and M2 it stands for.
            if (withShift) continue;
            cases.push({
              name: `weightSquares moments ${at}`,
              kernel: CONV_WEIGHT_SQUARES,
              inputs: [x, V],
              run: ([xx, vv]) => momentsToMeanAndM2(t(call(CONV_WEIGHT_SQUARES, { x: xx, V: vv }, attrs(mode))), vv.shape[0]! * vv.shape[1]!),
              reference: ([xx, vv]) => reference.squares(xx, vv, undefined, g, G, mode),
            });
            continue;
          }
          cases.push({
            name: `weightSquares ${mode}${withShift ? ' shift' : ''} ${at}`,
            kernel: CONV_WEIGHT_SQUARES,
            inputs: withShift ? [x, V, inp(theta)] : [x, V],
            run: ([xx, vv, s]) => call(CONV_WEIGHT_SQUARES, s ? { x: xx, V: vv, shift: s } : { x: xx, V: vv }, attrs(mode)),
            reference: ([xx, vv, s]) => reference.squares(xx, vv, s, g, G, mode),
          });
        }
      }
      if (G === 1) {
        cases.push({
          name: `inputGram ${at}`,
          kernel: CONV_INPUT_GRAM,
          inputs: [x],
          run: ([xx]) => call(CONV_INPUT_GRAM, { x: xx }, attrs()),
          reference: ([xx]) => reference.inputGram(xx, g),
        });
      }
    }
  }
  return cases;
}

/** Enough samples (20) for the device's sums over samples to run in several chunks of 8. */
const CHUNKED = GEOMETRIES.filter(([l]) => ['1d k3 s2 p1', '2d k3x2 d2x1 p2,0/2,1'].includes(l));

/**
 * A Linear layer's centred squares (one position, kernel 1, groups 1: the outer-product path, by
 * double GEMMs where the BLAS has dgemm) around the mean of J, as Variance asks: O = 70 spans three
 * blocks of 32 rows; rows o < 5 meet columns c < 3 of near-constant x with near-constant V, so their
 * J barely varies and those rows take the exact fallback; the rest stay on the GEMMs.
 */
function linearCentredCases(): Case[] {
  const [N, C, O, vs] = [20, 40, 70, 2];
  const r = rng('linear centred');
  const normal = () => Math.fround(Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
  const x = Float32Array.from({ length: N * C }, (_, i) => (i % C < 3 ? Math.fround(2 + 1e-3 * normal()) : normal()));
  const V = Float32Array.from({ length: vs * N * O }, (_, i) => (i % O < 5 ? Math.fround(1 + 1e-3 * normal()) : normal()));
  // The float32 mean of J_vn = V_vn x_nᵀ (float products, as BatchGrad makes them).
  const mean = new Float64Array(O * C);
  for (let v = 0; v < vs; v++) for (let k = 0; k < N; k++) for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) mean[o * C + c] += Math.fround(V[(v * N + k) * O + o] * x[k * C + c]);
  const shift = Float32Array.from(mean, (m) => m / (vs * N));
  const one = windowGeometry([1], [1], [1], [1], [0], [0], 'linear');
  const values = (data: Float32Array, shape: number[]): Input => ({ shape, kind: { values: Array.from(data), dtype: 'float32' } });
  const inputs = [values(x, [N, C, 1]), values(V, [vs, N, O, 1]), values(shift, [O, C, 1])];
  const squares = (xx: tf.Tensor, vv: tf.Tensor, sh?: tf.Tensor) => call(CONV_WEIGHT_SQUARES, sh ? { x: xx, V: vv, shift: sh } : { x: xx, V: vv }, { geom: one, groups: 1, mode: 'centred' });
  // Σ (J − s)² of the near-constant block alone: ~1e-6 of the rest, so the tolerance (relative to
  // the largest value) is about these elements; exact products instead of float ones miss by ~2e-5.
  const nearMean = (t: tf.Tensor) => t.reshape([2, O, C]).slice([1, 0, 0], [1, 5, 3]);
  const block: Case = {
    name: `weightSquares centred linear near-mean rows C${C} O${O} n${N}`,
    kernel: CONV_WEIGHT_SQUARES,
    inputs,
    run: ([xx, vv, sh]) => nearMean(t(squares(xx, vv, sh))),
    reference: ([xx, vv, sh]) => nearMean(reference.squares(xx, vv, sh, one, 1, 'centred')),
    rtol: 2e-6,
  };
  // 'moments': the kernel's own shift (the mean from the first GEMM), judged as [mean; M2] against
  // float64 sums of the float products; the near-mean block's M2 as tightly as above.
  const m = vs * N;
  const m2 = new Float64Array(O * C);
  for (let v = 0; v < vs; v++) for (let k = 0; k < N; k++) for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) m2[o * C + c] += (Math.fround(V[(v * N + k) * O + o] * x[k * C + c]) - mean[o * C + c] / m) ** 2;
  const exact = () => tf.tensor([...Array.from(mean, (s) => s / m), ...m2], [2, O, C]);
  const ofMoments = (xx: tf.Tensor, vv: tf.Tensor) => momentsToMeanAndM2(t(call(CONV_WEIGHT_SQUARES, { x: xx, V: vv }, { geom: one, groups: 1, mode: 'moments' })), m).reshape([2, O, C]);
  const moments: Case[] = [
    { name: `weightSquares moments linear C${C} O${O} n${N}`, kernel: CONV_WEIGHT_SQUARES, inputs: inputs.slice(0, 2), run: ([xx, vv]) => ofMoments(xx, vv), reference: exact },
    {
      name: `weightSquares moments linear near-mean rows C${C} O${O} n${N}`,
      kernel: CONV_WEIGHT_SQUARES,
      inputs: inputs.slice(0, 2),
      run: ([xx, vv]) => nearMean(ofMoments(xx, vv)),
      reference: () => nearMean(exact()),
      rtol: 2e-6,
    },
  ];
  return [block, ...moments, ...[false, true].map((withShift) => ({
    name: `weightSquares centred linear${withShift ? ' shift' : ''} C${C} O${O} n${N}`,
    kernel: CONV_WEIGHT_SQUARES,
    inputs: withShift ? inputs : inputs.slice(0, 2),
    run: ([xx, vv, sh]: tf.Tensor[]) => squares(xx, vv, sh),
    reference: ([xx, vv, sh]: tf.Tensor[]) => reference.squares(xx, vv, sh, one, 1, 'centred'),
  }))];
}

export const CONV_CASES = [...convCases(GEOMETRIES, n), ...convCases(CHUNKED, 20), ...linearCentredCases()];

/** The plain products (forward, input Jᵀ, weight gradient): the kernels a convolution library may run. */
export const isPlainProduct = (c: Case) => /^(forward|inputJacT|weightGrad) /.test(c.name);

/**
 * Plain products with 16 and more input channels per group, where the cpu device hands all three
 * to oneDNN (fewer channels keep the input Jᵀ on its own kernels): every geometry, plain and
 * grouped; and 20 samples, which oneDNN runs as chunks of 8, 8 and 4 (onednn_conv.cc).
 */
const WIDE: [number, number, number][] = [[32, 24, 1], [32, 16, 2]];
export const WIDE_CONV_CASES = [...convCases(GEOMETRIES, 4, WIDE), ...convCases(CHUNKED, 20, WIDE)].filter(isPlainProduct);
