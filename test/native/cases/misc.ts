/**
 * Fill, ZerosLike, OnesLike, Cast among float32/int32/bool (NaN, ±Inf, out-of-range values),
 * Select (broadcast operands too), GatherV2 (every axis, batchDims), OneHot (indices off the
 * table), Softmax (huge logits, -Inf, NaN), Diag, AddN, Prelu (broadcast alpha, NaN, ±Inf).
 */
import { tf } from '../../../src/core/tf.ts';
import { withFindings, type Case } from '../harness.ts';
import { inp, SPECIAL, type Input, type Kind } from '../inputs.ts';
import { unaryOracle } from '../oracles.ts';
import { call } from './shape.ts';

const DTYPES: Kind[] = ['normal', 'int', 'bool'];
const TF_DTYPE: Record<string, tf.DataType> = { normal: 'float32', int: 'int32', bool: 'bool' };
const f32 = (values: number[]) => ({ values, dtype: 'float32' as const });
const i32 = (values: number[]) => ({ values, dtype: 'int32' as const });

const one = (kernel: string, label: string, inputs: Input[], run: Case['run'], extra: Partial<Case> = {}): Case => ({
  name: `${kernel} ${label}`,
  kernel,
  inputs,
  run,
  ...extra,
});

function creationCases(): Case[] {
  const cases: Case[] = [];
  for (const shape of [[], [3], [2, 0], [2, 3, 4]]) {
    for (const [value, dtype] of [[2.5, 'float32'], [-7, 'int32'], [1, 'bool']] as [number, tf.DataType][]) {
      cases.push(one('Fill', `[${shape}] ${value} ${dtype}`, [], () => tf.fill(shape, value, dtype), { exact: true }));
    }
    for (const k of DTYPES) {
      cases.push(one('ZerosLike', `${k} [${shape}]`, [inp(shape, k)], ([x]) => tf.zerosLike(x), { exact: true }));
      cases.push(one('OnesLike', `${k} [${shape}]`, [inp(shape, k)], ([x]) => tf.onesLike(x), { exact: true }));
    }
  }
  cases.push(one('Fill', '[4] NaN float32', [], () => tf.fill([4], NaN), { exact: true }));
  return cases;
}

/** The special values an int32 holds (NaN: 0); ±Inf and 1e20 are CAST_OUT_OF_RANGE's. */
const IN_RANGE = SPECIAL.filter((v) => Number.isNaN(v) || Math.abs(v) < 2 ** 31);
/** Values every cast is tried on, per source dtype. */
const CAST_FROM: Record<string, Input[]> = {
  float32: [inp([IN_RANGE.length], f32(IN_RANGE)), inp([6], f32([2.7, -2.7, 0.49, -0.5, 1e-30, 16777217])), inp([2, 3], 'normal')],
  int32: [inp([7], i32([0, 1, -1, 2147483647, -2147483648, 16777217, -5])), inp([2, 3], 'int')],
  bool: [inp([2, 3], 'bool')],
};
/**
 * Float values whose int32 value tfjs and native define differently (out of range, ±Inf): tfjs
 * wraps modulo 2^32 (Int32Array conversion: Inf → 0, 3e9 → -1294967296); native saturates (NaN → 0),
 * as TensorFlow's XLA-free cast on x86 and C's saturating conversions do: compared with that oracle.
 */
const CAST_OUT_OF_RANGE = inp([4], f32([Infinity, -Infinity, 3e9, -3e9]));

function castCases(): Case[] {
  const cases: Case[] = [];
  for (const [from, inputs] of Object.entries(CAST_FROM)) {
    for (const to of ['float32', 'int32', 'bool'] as tf.DataType[]) {
      inputs.forEach((x, i) => cases.push(one('Cast', `${from} → ${to} #${i}`, [x], ([t]) => tf.cast(t, to), { exact: true })));
    }
  }
  cases.push(one('Cast', 'float32 → int32 out of range and ±Inf', [CAST_OUT_OF_RANGE], ([t]) => tf.cast(t, 'int32'), { exact: true }));
  cases[cases.length - 1].oracle = {
    why: 'native saturates out-of-range floats (tfjs wraps modulo 2^32)',
    compute: ([x]) => [unaryOracle(x, (v) => (Number.isNaN(v) ? 0 : Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(v)))), 'int32')],
  };
  cases.find((c) => c.name === 'Cast int32 → float32 #0')!.oracle = {
    why: "tfjs's cpu Cast int32 → float32 keeps the Int32Array (values beyond 2^24 are not rounded to float32)",
    compute: ([x]) => [unaryOracle(x, (v) => v, 'float32')],
  };
  return cases;
}

function selectCases(): Case[] {
  const cases: Case[] = [];
  for (const k of DTYPES) {
    cases.push(one('Select', `${k} [2,3,4]`, [inp([2, 3, 4], 'bool'), inp([2, 3, 4], k), inp([2, 3, 4], k)], ([c, a, b]) => tf.where(c, a, b), { exact: true }));
    cases.push(one('Select', `${k} [0,3]`, [inp([0, 3], 'bool'), inp([0, 3], k), inp([0, 3], k)], ([c, a, b]) => tf.where(c, a, b), { exact: true }));
  }
  // tf.where broadcasts its operands with Tile first: the kernel's own broadcasting is called directly.
  for (const [sc, sa, sb] of [[[2, 1, 4], [1, 3, 4], [2, 3, 1]], [[], [2, 3], [3]], [[3], [2, 3], []], [[1, 1], [1, 5], [4, 1]]]) {
    cases.push(
      one('Select', `broadcast [${sc}] ? [${sa}] : [${sb}]`, [inp(sc, 'bool'), inp(sa), inp(sb)], ([condition, t, e]) => call('Select', { condition, t, e }), {
        reference: ([c, a, b]) => tf.where(c, a, b),
        exact: true,
      }),
    );
  }
  return cases;
}

/** [x shape, indices shape, axis, batchDims]. */
const GATHERS: [number[], number[], number, number][] = [
  [[5], [3], 0, 0], [[5], [], 0, 0], [[4, 3], [2, 2], 0, 0], [[4, 3], [5], 1, 0], [[2, 3, 4], [6], 2, 0], [[2, 3, 4], [2, 3], 1, 0],
  [[2, 3, 4], [2, 5], 1, 1], [[2, 3, 4], [2, 3, 2], 2, 2], [[2, 3, 4, 2], [2, 4], 2, 1], [[3, 4], [0], 1, 0], [[0, 4], [2], 1, 0],
];

function gatherCases(): Case[] {
  const cases: Case[] = [];
  for (const [xs, is, axis, batchDims] of GATHERS) {
    const size = xs[axis];
    const idx: Input = inp(is, i32(Array.from({ length: 64 }, (_, i) => (i * 7 + 3) % Math.max(1, size))));
    for (const k of DTYPES) {
      cases.push(one('GatherV2', `${k} [${xs}] indices [${is}] axis ${axis} batchDims ${batchDims}`, [inp(xs, k), idx], ([x, i]) => tf.gather(x, i, axis, batchDims), { exact: true }));
    }
  }
  cases.push(one('GatherV2', 'negative axis', [inp([2, 3, 4]), inp([3], i32([3, 0, 2]))], ([x, i]) => tf.gather(x, i, -1), { exact: true }));
  return cases;
}

function oneHotCases(): Case[] {
  const cases: Case[] = [];
  const idx = i32([0, 3, 1, -1, 4, 2, 7, 0]);
  for (const [shape, depth, on, off, dtype] of [
    [[8], 4, 1, 0, 'int32'], [[2, 4], 5, 2.5, -1, 'float32'], [[], 3, 1, 0, 'int32'], [[0], 3, 1, 0, 'int32'], [[2, 4], 2, 7, 3, 'int32'],
  ] as [number[], number, number, number, tf.DataType][]) {
    cases.push(one('OneHot', `[${shape}] depth ${depth} on ${on} off ${off} ${dtype}`, [inp(shape, idx)], ([i]) => tf.oneHot(i, depth, on, off, dtype), { exact: true }));
  }
  return cases;
}

function softmaxCases(): Case[] {
  const cases: Case[] = [];
  for (const shape of [[5], [3, 4], [2, 3, 7], [1, 1], [4, 1], [2, 0, 3], [64, 1000]]) {
    cases.push(one('Softmax', `[${shape}]`, [inp(shape)], ([x]) => tf.softmax(x)));
  }
  cases.push(one('Softmax', 'huge logits', [inp([2, 4], f32([1000, 999, -1000, 0, 88, 89, 90, 1e30]))], ([x]) => tf.softmax(x)));
  cases.push(one('Softmax', '-Inf logits', [inp([3, 3], f32([-Infinity, 0, 1, -Infinity, -Infinity, 2, 5, 5, -Infinity]))], ([x]) => tf.softmax(x)));
  cases.push(one('Softmax', 'a row of -Inf', [inp([2, 3], f32([-Infinity, -Infinity, -Infinity, 1, 2, 3]))], ([x]) => tf.softmax(x)));
  cases.push(one('Softmax', 'NaN logit', [inp([2, 3], f32([NaN, 1, 2, 1, 2, 3]))], ([x]) => tf.softmax(x)));
  return cases;
}

function restCases(): Case[] {
  const cases: Case[] = [];
  for (const shape of [[1], [4], [2, 3], [2, 1, 2]]) {
    for (const k of ['normal', 'int'] as Kind[]) cases.push(one('Diag', `${k} [${shape}]`, [inp(shape, k)], ([x]) => tf.diag(x), { exact: true }));
  }
  for (const n of [2, 3, 4]) {
    for (const k of ['normal', 'int'] as Kind[]) {
      for (const shape of [[2, 3], [], [0, 2]]) {
        cases.push(one('AddN', `${n} × ${k} [${shape}]`, Array.from({ length: n }, () => inp(shape, k)), (xs) => tf.addN(xs)));
      }
    }
  }
  for (const [xs, as] of [[[2, 3], [3]], [[2, 3], []], [[2, 3, 4], [3, 1]], [[2, 3], [2, 3]], [[0, 3], [3]]]) {
    cases.push(one('Prelu', `[${xs}] alpha [${as}]`, [inp(xs), inp(as)], ([x, a]) => tf.prelu(x, a)));
  }
  cases.push(one('Prelu', 'special values', [inp([SPECIAL.length], f32(SPECIAL)), inp([], f32([0.25]))], ([x, a]) => tf.prelu(x, a)));
  cases.push(one('Prelu', 'special alpha', [inp([5, 1], f32([-2, -0, 0, 3, NaN])), inp([1, 4], f32([0, -1, Infinity, NaN]))], ([x, a]) => tf.prelu(x, a)));
  return cases;
}

export const MISC_CASES = withFindings([...creationCases(), ...castCases(), ...selectCases(), ...gatherCases(), ...oneHotCases(), ...softmaxCases(), ...restCases()], {});
export { TF_DTYPE };
