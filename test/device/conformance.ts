/**
 * Kernel conformance: every kernel the native backend registers (src/backends/native/register.ts)
 * runs on the cuda device and on the reference (the native cpu device; tfjs's cpu backend where
 * no BLAS is found), on the same host inputs, and the results must agree: float32 at rtol 1e-4
 * relative to the largest magnitude (TF32 off), int32 and bool exactly, NaN and ±∞ in the same
 * places. Each cuda case runs twice and must give the same bits (deterministic sums). The fused
 * convolutions run once more with one sample per chunk (many chunks: the accumulation across
 * chunks). Coverage is checked by wrapping every cuda kernel: each registered kernel must have run.
 */
import { getKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { loadCudaAddon } from '../../src/backends/cuda/addon.ts';
import { NATIVE_KERNELS } from '../../src/backends/native/register.ts';
import { useBackend } from '../../src/backends/select.ts';
import {
  CONV_FORWARD, CONV_INPUT_GRAM, CONV_INPUT_JAC_T, CONV_WEIGHT_GRAD, CONV_WEIGHT_JAC, CONV_WEIGHT_SQUARES, FOLD, MUL_STEP, OUTER_PRODUCTS,
} from '../../src/core/ops/kernel-names.ts';
import { runKernel, runKernelOutputs } from '../../src/core/ops/fused.ts';
import { foldColumns, maxPool, maxPoolJacT, maxPoolJvp, unfold } from '../../src/core/ops/windows.ts';
import { tf } from '../../src/core/tf.ts';
import { mulberry32 } from '../../src/data/prng.ts';
import { windowGeometry, type WindowGeometry } from '../../src/nn/geometry.ts';
import { assert, assertClose, assertEqual, type DeviceCheck } from './harness.ts';
import { deviceStatus } from './status.ts';

type DType = 'float32' | 'int32' | 'bool';
interface HostInput {
  shape: number[];
  dtype: DType;
  data: Float32Array | Int32Array | Uint8Array;
}
interface Output {
  shape: number[];
  dtype: string;
  data: ArrayLike<number>;
}
interface Case {
  name: string;
  inputs: () => Record<string, HostInput>;
  op: (t: Record<string, tf.Tensor>) => tf.Tensor | tf.Tensor[];
  /** Uses backpack-ts's fused convolutions: only the native backend has them as a reference. */
  fusedConv?: boolean;
  /** Another kernel only the native backend has as a reference (no convolution chunks). */
  nativeOnly?: boolean;
  rtol?: number;
}

// ---- inputs ------------------------------------------------------------------------------------

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function f32(shape: number[], seed: number, lo = -3, hi = 3, special = false): HostInput {
  const r = mulberry32(seed);
  const data = Float32Array.from({ length: numel(shape) }, () => lo + (hi - lo) * r());
  if (special && data.length >= 8) {
    const odd = [NaN, Infinity, -Infinity, 0, -0, 0.5, -0.5, 2.5];
    odd.forEach((v, i) => (data[Math.floor((i * data.length) / odd.length)] = v));
  }
  return { shape, dtype: 'float32', data };
}
/** Small integers as floats: ties for argmax and max pooling. */
function ties(shape: number[], seed: number, levels = 4): HostInput {
  const r = mulberry32(seed);
  return { shape, dtype: 'float32', data: Float32Array.from({ length: numel(shape) }, () => Math.floor(r() * levels) - 1) };
}
function i32(shape: number[], seed: number, lo = -9, hi = 9): HostInput {
  const r = mulberry32(seed);
  return { shape, dtype: 'int32', data: Int32Array.from({ length: numel(shape) }, () => lo + Math.floor((hi - lo + 1) * r())) };
}
function bool(shape: number[], seed: number): HostInput {
  const r = mulberry32(seed);
  return { shape, dtype: 'bool', data: Uint8Array.from({ length: numel(shape) }, () => (r() < 0.5 ? 1 : 0)) };
}
/** Divisors away from zero (floorDiv, mod) for int32. */
function nonZeroI32(shape: number[], seed: number): HostInput {
  const t = i32(shape, seed, -5, 5);
  for (let i = 0; i < t.data.length; i++) if (t.data[i] === 0) t.data[i] = 3;
  return t;
}

// ---- cases ---------------------------------------------------------------------------------------

const unaryFloat: [string, (x: tf.Tensor) => tf.Tensor, number?, number?][] = [
  ['abs', tf.abs], ['neg', tf.neg], ['exp', tf.exp], ['log', tf.log, -0.5, 4], ['log1p', tf.log1p, -1.5, 4], ['sqrt', tf.sqrt, -0.5, 9],
  ['rsqrt', tf.rsqrt, -0.5, 9], ['square', tf.square], ['sigmoid', tf.sigmoid], ['tanh', tf.tanh], ['relu', tf.relu], ['relu6', tf.relu6, -3, 9],
  ['leakyRelu', (x) => tf.leakyRelu(x, 0.2)], ['elu', tf.elu], ['selu', tf.selu], ['softplus', tf.softplus, -30, 30], ['step', (x) => tf.step(x, 0.3)],
  ['reciprocal', tf.reciprocal], ['sign', tf.sign], ['floor', tf.floor], ['ceil', tf.ceil], ['round', tf.round], ['sin', tf.sin, -20, 20],
  ['cos', tf.cos, -20, 20], ['expm1', tf.expm1], ['erf', tf.erf], ['isNaN', tf.isNaN], ['isInf', tf.isInf], ['isFinite', tf.isFinite],
  ['clipByValue', (x) => tf.clipByValue(x, -0.5, 0.7)],
];

const binaryFloat: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
  ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div], ['maximum', tf.maximum], ['minimum', tf.minimum], ['pow', tf.pow],
  ['squaredDifference', tf.squaredDifference], ['floorDiv', tf.floorDiv], ['mod', tf.mod], ['atan2', tf.atan2], ['divNoNan', tf.divNoNan],
  ['greater', tf.greater], ['greaterEqual', tf.greaterEqual], ['less', tf.less], ['lessEqual', tf.lessEqual], ['equal', tf.equal],
  ['notEqual', tf.notEqual],
  // Composed by tfjs's ops from other kernels: the kernel itself, directly.
  ['DivNoNan kernel', (a, b) => tf.engine().runKernel('DivNoNan', { a, b }) as tf.Tensor],
];

const G2: [string, WindowGeometry][] = [
  ['2d k3 s1 p1', windowGeometry([6, 5], [3, 3], [1, 1], [1, 1], [1, 1], [1, 1], 'c')],
  ['2d k3 s2 p1 dil2', windowGeometry([9, 8], [3, 2], [2, 1], [2, 1], [1, 0], [1, 1], 'c')],
  ['1d k3 s2 p1', windowGeometry([11], [3], [2], [1], [1], [1], 'c')],
  ['3d', windowGeometry([4, 5, 3], [2, 3, 2], [1, 2, 1], [1, 1, 1], [0, 1, 1], [0, 1, 1], 'c')],
];

function cases(): Case[] {
  const out: Case[] = [];
  const add = (c: Case) => out.push(c);
  // Elementwise: odd values (NaN, ±∞, ±0, halves) in every float input.
  unaryFloat.forEach(([name, f, lo, hi], i) => add({ name: `unary ${name}`, inputs: () => ({ x: f32([7, 33], 100 + i, lo, hi, true) }), op: ({ x }) => f(x) }));
  for (const [name, f] of [['abs', tf.abs], ['neg', tf.neg], ['square', tf.square], ['sign', tf.sign]] as const) {
    add({ name: `unary ${name} int32`, inputs: () => ({ x: i32([5, 40], 7) }), op: ({ x }) => f(x) });
  }
  add({ name: 'logicalNot bool', inputs: () => ({ x: bool([300], 3) }), op: ({ x }) => tf.logicalNot(x) });
  add({ name: 'isNaN int32', inputs: () => ({ x: i32([50], 3) }), op: ({ x }) => tf.isNaN(x.cast('float32')) });
  binaryFloat.forEach(([name, f], i) => {
    add({ name: `binary ${name} broadcast`, inputs: () => ({ a: f32([2, 3, 1, 5], 200 + i, -3, 3, true), b: f32([3, 4, 1], 300 + i, -3, 3, true) }), op: ({ a, b }) => f(a, b) });
    add({ name: `binary ${name} same shape`, inputs: () => ({ a: f32([1000], 400 + i), b: f32([1000], 500 + i) }), op: ({ a, b }) => f(a, b) });
  });
  add({ name: 'binary add scalar', inputs: () => ({ a: f32([64, 3], 9), b: f32([], 10) }), op: ({ a, b }) => tf.add(a, b) });
  add({ name: 'binary sub scalar first', inputs: () => ({ a: f32([], 9), b: f32([64, 3], 10) }), op: ({ a, b }) => tf.sub(a, b) });
  add({ name: 'binary transposed operand', inputs: () => ({ a: f32([6, 7], 11), b: f32([7, 6], 12) }), op: ({ a, b }) => tf.mul(a, b.transpose()) });
  for (const [name, f] of [['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['floorDiv', tf.floorDiv], ['mod', tf.mod], ['maximum', tf.maximum],
    ['minimum', tf.minimum], ['greater', tf.greater], ['equal', tf.equal], ['lessEqual', tf.lessEqual]] as const) {
    add({ name: `binary ${name} int32`, inputs: () => ({ a: i32([4, 1, 6], 21), b: nonZeroI32([3, 6], 22) }), op: ({ a, b }) => f(a, b) });
  }
  const xor = (a: tf.Tensor, b: tf.Tensor) => tf.engine().runKernel('LogicalXor', { a, b }) as tf.Tensor;
  for (const [name, f] of [['logicalAnd', tf.logicalAnd], ['logicalOr', tf.logicalOr], ['LogicalXor kernel', xor]] as const) {
    add({ name: `binary ${name}`, inputs: () => ({ a: bool([5, 1, 8], 31), b: bool([4, 8], 32) }), op: ({ a, b }) => f(a, b) });
  }
  add({ name: 'cast float→int32 (NaN, ±∞, big)', inputs: () => ({ x: f32([64], 41, -3e9, 3e9, true) }), op: ({ x }) => x.cast('int32') });
  add({ name: 'cast int32→float, int32→bool, float→bool, bool→float', inputs: () => ({ x: i32([70], 42), y: f32([70], 43, -1, 1, true), z: bool([70], 44) }),
    op: ({ x, y, z }) => [x.cast('float32'), x.cast('bool'), y.cast('bool'), z.cast('float32'), z.cast('int32')] });
  add({ name: 'addN', inputs: () => ({ a: f32([3, 50], 51), b: f32([3, 50], 52), c: f32([3, 50], 53) }), op: ({ a, b, c }) => tf.addN([a, b, c]) });
  add({ name: 'select (where) broadcast', inputs: () => ({ c: bool([4, 1], 54), a: f32([4, 9], 55), b: f32([4, 9], 56) }), op: ({ c, a, b }) => tf.where(c.tile([1, 9]), a, b) });
  add({ name: 'select int32 and bool', inputs: () => ({ c: bool([40], 57), a: i32([40], 58), b: i32([40], 59), p: bool([40], 60), q: bool([40], 61) }),
    op: ({ c, a, b, p, q }) => [tf.where(c, a, b), tf.where(c, p, q)] });
  add({ name: 'prelu', inputs: () => ({ x: f32([6, 5], 62), a: f32([5], 63, 0, 1) }), op: ({ x, a }) => tf.prelu(x, a) });
  // Reductions: thread-per-output and block-per-output shapes, NaN propagation, int32 sums.
  add({ name: 'sum rows', inputs: () => ({ x: f32([37, 300], 71) }), op: ({ x }) => x.sum(1) });
  add({ name: 'sum columns (over samples)', inputs: () => ({ x: f32([1000, 37], 72) }), op: ({ x }) => x.sum(0) });
  add({ name: 'sum all (100k, one block)', inputs: () => ({ x: f32([100_003], 73) }), op: ({ x }) => x.sum() });
  add({ name: 'sum axes [0, 2] keepDims', inputs: () => ({ x: f32([9, 4, 31, 3], 74) }), op: ({ x }) => x.sum([0, 2], true) });
  add({ name: 'mean, max, min, prod', inputs: () => ({ x: f32([12, 40], 75, -1.2, 1.2, true), y: f32([5, 6], 76, 0.5, 1.5) }),
    op: ({ x, y }) => [x.mean(1), x.max(0), x.min(1), x.max(), y.prod(1)] });
  add({ name: 'max over many (block path) with NaN', inputs: () => ({ x: f32([3, 5000], 77, -3, 3, true) }), op: ({ x }) => [x.max(1), x.min(1)] });
  add({ name: 'any, all', inputs: () => ({ x: bool([20, 33], 78) }), op: ({ x }) => [x.any(1), x.all(0), x.any()] });
  add({ name: 'sum int32', inputs: () => ({ x: i32([30, 400], 79) }), op: ({ x }) => [x.sum(1), x.sum()] });
  add({ name: 'argMax, argMin with ties', inputs: () => ({ x: ties([13, 11, 7], 80) }), op: ({ x }) => [x.argMax(1), x.argMin(2), x.argMax(0)] });
  add({ name: 'argMax int32', inputs: () => ({ x: i32([6, 50], 81, -2, 2) }), op: ({ x }) => x.argMax(1) });
  // Shapes and data movement.
  add({ name: 'reshape, expandDims, squeeze, identity', inputs: () => ({ x: f32([4, 1, 6], 91) }), op: ({ x }) => [
    x.reshape([6, 4]), tf.engine().runKernel('ExpandDims', { input: x }, { dim: 1 }) as tf.Tensor,
    tf.engine().runKernel('Squeeze', { x }, { axis: [1] }) as tf.Tensor, tf.engine().runKernel('Identity', { x }) as tf.Tensor] });
  add({ name: 'transpose', inputs: () => ({ x: f32([3, 4, 5, 2], 92), b: bool([3, 7], 93) }), op: ({ x, b }) => [x.transpose([2, 0, 3, 1]), b.transpose()] });
  add({ name: 'slice, stridedSlice (negative stride)', inputs: () => ({ x: f32([6, 7, 5], 94) }),
    op: ({ x }) => [x.slice([1, 2, 0], [4, 3, 5]), tf.stridedSlice(x, [5, 0, 4], [0, 7, 0], [-2, 3, -1])] });
  add({ name: 'concat, split', inputs: () => ({ a: f32([3, 2, 4], 95), b: f32([3, 5, 4], 96), c: i32([3, 1, 4], 97) }),
    op: ({ a, b, c }) => [tf.concat([a, b, c.cast('float32')], 1), ...tf.split(b, [2, 1, 2], 1), tf.concat([c, c], 2)] });
  add({ name: 'stack, unstack', inputs: () => ({ a: f32([4, 3], 98), b: f32([4, 3], 99) }), op: ({ a, b }) => [tf.stack([a, b], 1), ...tf.unstack(a, 1)] });
  add({ name: 'tile, pad, reverse', inputs: () => ({ x: f32([2, 3, 4], 101), i: i32([3, 2], 102) }),
    op: ({ x, i }) => [x.tile([2, 1, 3]), x.pad([[1, 0], [0, 2], [2, 1]], 1.5), x.reverse([0, 2]), i.pad([[0, 1], [2, 0]], 7)] });
  add({ name: 'broadcastTo, diag, fill, zerosLike, onesLike', inputs: () => ({ x: f32([3, 1, 4], 103), d: f32([5], 104), m: f32([2, 3], 105) }),
    op: ({ x, d, m }) => [tf.broadcastTo(x, [2, 3, 6, 4]), tf.engine().runKernel('BroadcastTo', { x }, { shape: [2, 3, 6, 4], inputShape: x.shape } as never) as tf.Tensor, tf.diag(d), tf.diag(m), tf.fill([3, 4], 2.5), tf.fill([5], 3, 'int32'), tf.zerosLike(x), tf.onesLike(x)] });
  add({ name: 'gather (axis 1, batchDims 1, int32, bool)', inputs: () => ({ x: f32([4, 9, 3], 106), i: i32([5], 107, 0, 8), bi: i32([4, 3], 108, 0, 8), b: bool([9, 2], 109) }),
    op: ({ x, i, bi, b }) => [tf.gather(x, i, 1), tf.gather(x, bi, 1, 1), tf.gather(x.cast('int32'), i, 1), tf.gather(b, i, 0)] });
  add({ name: 'oneHot', inputs: () => ({ i: i32([17], 110, 0, 9) }), op: ({ i }) => [tf.oneHot(i, 10), tf.oneHot(i, 12, 2, -1)] });
  add({ name: 'softmax', inputs: () => ({ x: f32([37, 10], 111, -20, 20), y: f32([5, 1000], 112) }), op: ({ x, y }) => [tf.softmax(x), tf.softmax(y)] });
  // GEMMs (cuBLAS): transposes, batches, broadcast batches, a size that fills tiles.
  add({ name: 'matMul 2-D and transposes', inputs: () => ({ a: f32([33, 17], 121), b: f32([17, 25], 122), c: f32([25, 17], 123) }),
    op: ({ a, b, c }) => [tf.matMul(a, b), tf.matMul(a, c, false, true), tf.matMul(a.transpose(), b.transpose(), true, true), tf.matMul(b, a, true, true)] });
  add({ name: 'batchMatMul (broadcast batch)', inputs: () => ({ a: f32([2, 1, 4, 5], 124), b: f32([3, 5, 6], 125), c: f32([7, 4, 5], 126), d: f32([7, 6, 5], 127) }),
    op: ({ a, b, c, d }) => [tf.matMul(a, b), tf.matMul(c, d, false, true)] });
  add({ name: 'matMul 256×512×384', inputs: () => ({ a: f32([256, 512], 128, -1, 1), b: f32([512, 384], 129, -1, 1) }), op: ({ a, b }) => tf.matMul(a, b) });
  add({ name: 'matMul K = 0', inputs: () => ({ a: f32([3, 0], 130), b: f32([0, 4], 131) }), op: ({ a, b }) => tf.matMul(a, b) });
  // Sliding windows (kernels/windows.h): every layout, fold, pooling and its Jacobians, with ties.
  G2.forEach(([gname, g], gi) => {
    const B = 3, C = 4;
    const x = () => f32([B, C, ...g.inSize], 140 + gi);
    add({ name: `unfold columns/samples/patches ${gname}`, inputs: () => ({ x: x() }), op: ({ x }) => [unfold(x, g, 'columns'), unfold(x, g, 'samples'), unfold(x, g, 'patches', 2)] });
    add({ name: `fold columns/samples ${gname}`, inputs: () => ({ c: f32([C * numel(g.kernel), B * numel(g.outSize)], 150 + gi), s: f32([B, C * numel(g.kernel), numel(g.outSize)], 160 + gi) }),
      op: ({ c, s }) => [foldColumns(c, g, C, B), tf.engine().runKernel(FOLD, { cols: s }, { geom: g, layout: 'samples', channels: C, batch: B } as never) as tf.Tensor] });
    add({ name: `maxPool, Jᵀ, J (ties) ${gname}`, inputs: () => ({ x: ties([B, C, ...g.inSize], 170 + gi), V: f32([2, B, C, ...g.outSize], 180 + gi), U: f32([B, C, ...g.inSize], 190 + gi) }),
      op: ({ x, V, U }) => [maxPool(x, g), maxPoolJacT(x, g, V), maxPoolJvp(x, g, U)] });
  });
  // Fused convolutions (kernels/conv.h): groups, bias, several vectors, shift, every squares mode.
  const convGeoms = [G2[0], G2[1], G2[3]];
  convGeoms.forEach(([gname, g], gi) => {
    for (const groups of [1, 2]) {
      const n = 5, C = 4, O = 6, v = 2, K = numel(g.kernel), P = numel(g.outSize);
      const theta = O * (C / groups) * K;
      const attrs = { geom: g, groups };
      const seed = 300 + gi * 10 + groups;
      const x = () => f32([n, C, ...g.inSize], seed);
      const W = () => f32([O, C / groups, ...g.kernel], seed + 1);
      const V = () => f32([v, n, O, ...g.outSize], seed + 2);
      const tag = `${gname} groups ${groups}`;
      add({ name: `conv forward (bias) ${tag}`, fusedConv: true, inputs: () => ({ x: x(), W: W(), b: f32([O], seed + 3) }),
        op: ({ x, W, b }) => [runKernel(CONV_FORWARD, { x, W, bias: b }, attrs), runKernel(CONV_FORWARD, { x, W }, attrs)] });
      add({ name: `conv input Jᵀ ${tag}`, fusedConv: true, inputs: () => ({ W: W(), V: f32([v * n, O, ...g.outSize], seed + 4) }),
        op: ({ W, V }) => runKernel(CONV_INPUT_JAC_T, { V, W }, attrs) });
      add({ name: `conv weight grad, Jacobians ${tag}`, fusedConv: true, inputs: () => ({ x: x(), V: V() }),
        op: ({ x, V }) => [runKernel(CONV_WEIGHT_GRAD, { x, V }, attrs), runKernel(CONV_WEIGHT_JAC, { x, V }, attrs)] });
      add({ name: `conv weight squares sum/rows/norms (shift) ${tag}`, fusedConv: true, inputs: () => ({ x: x(), V: V(), s: f32([theta], seed + 5, -0.2, 0.2) }),
        op: ({ x, V, s }) => [
          runKernel(CONV_WEIGHT_SQUARES, { x, V }, { ...attrs, mode: 'sum' }), runKernel(CONV_WEIGHT_SQUARES, { x, V }, { ...attrs, mode: 'rows' }),
          runKernel(CONV_WEIGHT_SQUARES, { x, V }, { ...attrs, mode: 'norms' }), runKernel(CONV_WEIGHT_SQUARES, { x, V, shift: s }, { ...attrs, mode: 'sum' }),
          runKernel(CONV_WEIGHT_SQUARES, { x, V, shift: s }, { ...attrs, mode: 'rows' })] });
      if (groups === 1) add({ name: `conv input Gram ${tag}`, fusedConv: true, inputs: () => ({ x: x() }), op: ({ x }) => runKernel(CONV_INPUT_GRAM, { x }, attrs) });
      void P;
    }
  });
  // A Linear layer's per-sample outer products and their sum (kernels/outer.h).
  add({ name: 'outer products and their sum', nativeOnly: true, inputs: () => ({ V: f32([2, 5, 6], 351), x: f32([5, 37], 352) }),
    op: ({ V, x }) => runKernelOutputs(OUTER_PRODUCTS, { V, x }, {}) });
  // A ReLU's Jacobian products (the MulStep binary op), x broadcast over V's leading axis, NaN and ±0 among both.
  add({ name: 'V ⊙ step(x)', nativeOnly: true, inputs: () => ({ V: f32([3, 4, 50], 353, -3, 3, true), x: f32([4, 50], 354, -3, 3, true) }),
    op: ({ V, x }) => runKernel(MUL_STEP, { V, x }, {}) });
  return out;
}

// ---- running -------------------------------------------------------------------------------------

async function runOn(backend: string, c: Case): Promise<Output[]> {
  await useBackend(backend);
  const host = c.inputs();
  return tf.tidy(() => {
    const t = Object.fromEntries(Object.entries(host).map(([k, h]) => [k, tf.tensor(h.data, h.shape, h.dtype)]));
    const r = c.op(t);
    return (Array.isArray(r) ? r : [r]).map((y) => ({ shape: y.shape, dtype: y.dtype, data: Array.from(y.dataSync() as ArrayLike<number>) }));
  });
}

function compare(got: Output[], want: Output[], label: string, rtol: number): number {
  assert(got.length === want.length, `${label}: ${got.length} outputs, expected ${want.length}`);
  let worst = 0;
  got.forEach((g, i) => {
    const w = want[i];
    const l = `${label} output ${i}`;
    assert(JSON.stringify(g.shape) === JSON.stringify(w.shape), `${l}: shape [${g.shape}], expected [${w.shape}]`);
    assert(g.dtype === w.dtype, `${l}: dtype ${g.dtype}, expected ${w.dtype}`);
    if (g.dtype === 'float32') worst = Math.max(worst, assertClose(g.data, w.data, l, rtol));
    else assertEqual(g.data, w.data, l);
  });
  return worst;
}

/** Wraps every cuda kernel to record which ran (the coverage check reads it). */
const ran = new Set<string>();
let wrapped = false;
function trackCudaKernels(): void {
  if (wrapped) return;
  wrapped = true;
  for (const k of NATIVE_KERNELS) {
    const config = getKernel(k.kernelName, 'cuda') as KernelConfig | undefined;
    if (!config) continue;
    const f = config.kernelFunc;
    (config as { kernelFunc: KernelConfig['kernelFunc'] }).kernelFunc = (args) => {
      ran.add(k.kernelName);
      return f(args);
    };
  }
}

export function conformanceChecks(): DeviceCheck[] {
  const all = cases();
  const checks: DeviceCheck[] = all.map((c) => ({
    group: 'conformance',
    name: c.name,
    async run(env) {
      const status = deviceStatus();
      if ((c.fusedConv || c.nativeOnly) && status.reference !== 'native') {
        env.log(`  (${c.name}: no reference: the fused convolutions need the native cpu device)`);
        return;
      }
      await useBackend('cuda');
      trackCudaKernels();
      const want = await runOn(status.reference, c);
      const got = await runOn('cuda', c);
      const worst = compare(got, want, `${c.name} (cuda vs ${status.reference})`, c.rtol ?? 1e-4);
      const again = await runOn('cuda', c);
      got.forEach((g, i) => assertEqual(again[i].data, g.data, `${c.name} output ${i}: a second run (determinism)`));
      if (c.fusedConv) {
        // One sample per chunk: every chunk boundary, and sums carried across chunks.
        const addon = loadCudaAddon();
        addon.cudaSetConvChunkFloats(1);
        try {
          compare(await runOn('cuda', c), want, `${c.name} one sample per chunk`, c.rtol ?? 1e-4);
        } finally {
          addon.cudaSetConvChunkFloats(0);
        }
      }
      if (worst > 1e-5) env.log(`  ${c.name}: worst relative difference ${worst.toExponential(2)}`);
    },
  }));
  checks.push({
    group: 'conformance',
    name: 'every registered kernel ran on cuda',
    run() {
      const status = deviceStatus();
      const missing = NATIVE_KERNELS.map((k) => k.kernelName).filter((k) => !ran.has(k));
      const allowed = status.reference === 'native' ? [] : missing.filter((k) => k.startsWith('BpConv') || k === OUTER_PRODUCTS || k === MUL_STEP);
      const left = missing.filter((k) => !allowed.includes(k));
      assert(left.length === 0, `kernels never run on cuda by the conformance cases: ${left.join(', ')}`);
    },
  });
  return checks;
}
