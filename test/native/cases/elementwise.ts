/**
 * Elementwise kernels: every unary op over shapes of rank 0–5 with size-0 and size-1 dims, special
 * values (NaN, ±Inf, ±0, round's ties), int32 and bool inputs; every binary op over a broadcast
 * sweep (each axis of ranks 0–5 broadcast on either side, lower ranks, scalars, both sides at
 * once, size-0 dims), all pairs of special values, int32 (small and beyond 2^24) and bool inputs;
 * and MUL_STEP (V ⊙ step(x)) against its composition.
 */
import { tf } from '../../../src/core/tf.ts';
import { withFindings, type Case } from '../harness.ts';
import { inp, SPECIAL, type Input, type Kind } from '../inputs.ts';
import { binaryOracle, ieeePow, unaryOracle } from '../oracles.ts';
import { MUL_STEP } from '../../../src/core/ops/kernel-names.ts';

type Unary = (x: tf.Tensor) => tf.Tensor;

/**
 * Each unary kernel, the tf op that reaches it, and the input dtypes tfjs lets through to it
 * (ops that require float32, e.g. tf.log, are given no int32 inputs).
 */
const UNARY: [string, Unary, { int?: boolean; bool?: boolean; bigint?: boolean; float?: boolean }][] = [
  ['Abs', tf.abs, { int: true, bigint: true }],
  ['Neg', tf.neg, { int: true, bigint: true }],
  ['Exp', tf.exp, { int: true }],
  ['Log', tf.log, {}],
  ['Log1p', tf.log1p, { int: true }],
  ['Sqrt', tf.sqrt, {}],
  ['Rsqrt', tf.rsqrt, {}],
  ['Square', tf.square, { int: true }],
  ['Sigmoid', tf.sigmoid, {}],
  ['Tanh', tf.tanh, {}],
  ['Relu', tf.relu, { int: true, bool: true }],
  ['Relu6', tf.relu6, { int: true, bool: true }],
  ['LeakyRelu', (x) => tf.leakyRelu(x, 0.2), { int: true }],
  ['Elu', tf.elu, {}],
  ['Selu', tf.selu, { int: true }],
  ['Softplus', tf.softplus, { int: true }],
  ['Step', (x) => tf.step(x, 0.3), { int: true }],
  ['Reciprocal', tf.reciprocal, { int: true }],
  ['Sign', tf.sign, { int: true, bigint: true }],
  ['Floor', tf.floor, {}],
  ['Ceil', tf.ceil, {}],
  ['Round', tf.round, { int: true }],
  ['Sin', tf.sin, {}],
  ['Cos', tf.cos, {}],
  ['Expm1', tf.expm1, { int: true }],
  ['Erf', tf.erf, { int: true }],
  ['IsNan', tf.isNaN, { int: true }],
  ['IsInf', tf.isInf, { int: true }],
  ['IsFinite', tf.isFinite, { int: true }],
  ['LogicalNot', tf.logicalNot, { float: false, bool: true }],
  ['ClipByValue', (x) => tf.clipByValue(x, -0.5, 0.75), { int: true }],
];

/** Shapes of rank 0–5 with size-0 and size-1 dims. */
const UNARY_SHAPES = [[], [0], [1], [7], [2, 3], [3, 0, 2], [1, 1, 1], [2, 3, 1, 2], [2, 1, 3, 2, 2]];

function unaryCases(): Case[] {
  const cases: Case[] = [];
  for (const [kernel, f, allow] of UNARY) {
    const add = (label: string, input: Input) => cases.push({ name: `${kernel} ${label}`, kernel, inputs: [input], run: ([x]) => f(x) });
    if (allow.float !== false) {
      for (const s of UNARY_SHAPES) add(`float32 [${s}]`, inp(s, 'normal'));
      add('special values', inp([SPECIAL.length], { values: SPECIAL, dtype: 'float32' }));
      add('special values [3,18]', inp([3, SPECIAL.length], 'special'));
    }
    if (allow.int) add('int32 [2,5]', inp([2, 5], 'int'));
    if (allow.bigint) add('int32 beyond 2^24 [9]', inp([9], 'bigint'));
    if (allow.bool) {
      add('bool [2,5]', inp([2, 5], 'bool'));
      add('bool [0,3]', inp([0, 3], 'bool'));
    }
  }
  const abs = cases.find((c) => c.name === 'Abs int32 beyond 2^24 [9]')!;
  abs.oracle = { why: "tfjs's cpu Abs computes int32 through a Float32Array (rounds beyond 2^24)", compute: ([x]) => [unaryOracle(x, Math.abs)] };
  return cases;
}

/**
 * NOTE: tfjs's unary kernels keep the input dtype unless the op is float-only (cpu and webgl alike:
 * relu(int32) is int32, log1p(int32) is a truncated int32, relu(bool) is bool); native computes
 * every op but Abs, Neg, Square and Sign in float32 and returns float32.
 */

/** Real native bugs among the unary cases (see the report of the conformance suite). */

/**
 * Shape pairs of a broadcast sweep: for each rank 0–5, equal shapes, each axis set to 1 on either
 * side, a scalar and a lower rank on either side, and complementary axes broadcast on both sides.
 */
export function broadcastPairs(): [number[], number[]][] {
  const base = [3, 2, 4, 2, 3];
  const pairs: [number[], number[]][] = [];
  for (let r = 0; r <= 5; r++) {
    const full = base.slice(0, r);
    pairs.push([full, full]);
    for (let i = 0; i < r; i++) {
      const one = full.map((d, j) => (j === i ? 1 : d));
      pairs.push([one, full], [full, one]);
    }
    if (r > 0) pairs.push([[], full], [full, []]);
    if (r > 1) pairs.push([full.slice(1), full], [full, full.slice(r - 1)]);
    if (r > 1) pairs.push([full.map((d, j) => (j % 2 ? d : 1)), full.map((d, j) => (j % 2 ? 1 : d))]);
  }
  // Size-0 and size-1 dims.
  pairs.push([[0, 3], [1, 3]], [[2, 0], [2, 1]], [[0], []], [[3, 1, 0], [1, 4, 1]], [[1, 1], [1]], [[1, 3, 1], [2, 1, 4]]);
  return pairs;
}

type Binary = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
const kernelCall = (name: string): Binary => (a, b) => tf.engine().runKernel(name, { a, b }) as tf.Tensor;

interface BinarySpec {
  kernel: string;
  /** What native runs: the tf op, or the kernel itself where no tf op reaches it. */
  run: Binary;
  /** The cpu side where the cpu backend has no such kernel (tfjs composes the op). */
  reference?: Binary;
  /** Inputs of the broadcast sweep. */
  kind: Kind;
  /** Extra input dtypes tfjs passes to the kernel. */
  extra: Kind[];
}

const ARITH_INT: Kind[] = ['int', 'bigint'];
const BINARY: BinarySpec[] = [
  { kernel: 'Add', run: tf.add, kind: 'normal', extra: [...ARITH_INT, 'bool'] },
  { kernel: 'Sub', run: tf.sub, kind: 'normal', extra: ARITH_INT },
  { kernel: 'Multiply', run: tf.mul, kind: 'normal', extra: ['int', 'bool'] },
  { kernel: 'RealDiv', run: tf.div, kind: 'normal', extra: [] },
  { kernel: 'Maximum', run: tf.maximum, kind: 'normal', extra: [...ARITH_INT, 'bool'] },
  { kernel: 'Minimum', run: tf.minimum, kind: 'normal', extra: [...ARITH_INT, 'bool'] },
  { kernel: 'Pow', run: tf.pow, kind: 'positive', extra: ['int'] },
  { kernel: 'SquaredDifference', run: tf.squaredDifference, kind: 'normal', extra: ['int'] },
  // NOTE: tfjs's cpu FloorDiv returns int32 for float inputs (wasm: float32); the sweep compares values
  // as float32, and 'FloorDiv float32 output dtype' the dtype itself.
  { kernel: 'FloorDiv', run: (a, b) => tf.floorDiv(a, b).cast('float32'), kind: 'normal', extra: ARITH_INT },
  { kernel: 'Mod', run: tf.mod, kind: 'normal', extra: ARITH_INT },
  { kernel: 'Atan2', run: tf.atan2, kind: 'normal', extra: ['int'] },
  // No tf op reaches DivNoNan or LogicalXor (tfjs composes them): the kernel is called directly.
  { kernel: 'DivNoNan', run: kernelCall('DivNoNan'), reference: tf.divNoNan, kind: 'ties', extra: [] },
  { kernel: 'Greater', run: tf.greater, kind: 'ties', extra: [...ARITH_INT, 'bool'] },
  { kernel: 'GreaterEqual', run: tf.greaterEqual, kind: 'ties', extra: [...ARITH_INT, 'bool'] },
  { kernel: 'Less', run: tf.less, kind: 'ties', extra: [...ARITH_INT, 'bool'] },
  { kernel: 'LessEqual', run: tf.lessEqual, kind: 'ties', extra: [...ARITH_INT, 'bool'] },
  { kernel: 'Equal', run: tf.equal, kind: 'ties', extra: [...ARITH_INT, 'bool'] },
  { kernel: 'NotEqual', run: tf.notEqual, kind: 'ties', extra: [...ARITH_INT, 'bool'] },
  { kernel: 'LogicalAnd', run: tf.logicalAnd, kind: 'bool', extra: [] },
  { kernel: 'LogicalOr', run: tf.logicalOr, kind: 'bool', extra: [] },
  { kernel: 'LogicalXor', run: kernelCall('LogicalXor'), reference: tf.logicalXor, kind: 'bool', extra: [] },
];

const f32 = (values: number[]) => ({ values, dtype: 'float32' as const });
const i32 = (values: number[]) => ({ values, dtype: 'int32' as const });
/**
 * Mod's special sweep. NOTE: tfjs computes a mod b as (a % b + b) % b when the signs differ, which
 * gives NaN for b = ±Inf and 0 for -0.5 mod 1e20 or -1e-20 mod 0.5, where TensorFlow, Python and
 * native give ±Inf, 1e20 and 0.5 (a + b rounded); the sweep leaves out magnitudes that far apart,
 * and 'Mod float32 by ±Inf' keeps the first difference visible.
 */
const MOD_DIVIDENDS = SPECIAL.filter((v) => !(Math.abs(v) > 1e10 && Number.isFinite(v)) && !(v !== 0 && Math.abs(v) < 1e-10));
const MOD_DIVISORS = MOD_DIVIDENDS.filter(Number.isFinite).concat(NaN);

function binaryCases(): Case[] {
  const cases: Case[] = [];
  for (const s of BINARY) {
    const add = (label: string, a: Input, b: Input) =>
      cases.push({
        name: `${s.kernel} ${label}`,
        kernel: s.kernel,
        inputs: [a, b],
        run: ([x, y]) => s.run(x, y),
        reference: s.reference ? ([x, y]) => s.reference!(x, y) : undefined,
      });
    for (const [sa, sb] of broadcastPairs()) add(`${s.kind} [${sa}] ∘ [${sb}]`, inp(sa, s.kind), inp(sb, s.kind));
    if (s.kind !== 'bool') {
      // Every pair of special values: a column against a row.
      const [as, bs] = s.kernel === 'Mod' ? [MOD_DIVIDENDS, MOD_DIVISORS] : [SPECIAL, SPECIAL];
      add('special × special', inp([as.length, 1], f32(as)), inp([1, bs.length], f32(bs)));
    }
    for (const kind of s.extra) add(`${kind} [4,1,3] ∘ [1,5,3]`, inp([4, 1, 3], kind), inp([1, 5, 3], kind));
  }
  const byName = (name: string) => cases.find((c) => c.name === name)!;
  byName('Pow special × special').oracle = {
    why: "tfjs's cpu Pow is JavaScript's Math.pow: pow(1, NaN) and pow(±1, ±Inf) are NaN there, 1 in IEEE/C99 (std::pow, TensorFlow, tfjs-wasm)",
    compute: ([a, b]) => [binaryOracle(a, b, ieeePow, 'float32')],
  };
  byName('FloorDiv special × special').oracle = {
    why: "tfjs's cpu FloorDiv returns int32 even for float32 inputs (NaN and ±Inf become 0); the float32 floor of the float32 quotient instead",
    compute: ([a, b]) => [binaryOracle(a, b, (x, y) => Math.floor(Math.fround(x / y)), 'float32')],
  };
  // MUL_STEP (a ReLU's Jᵀ): V ⊙ step(x), x broadcast over V's leading axes and both ways, special
  // values on either side (NaN in x gives NaN, ±0 and ±Inf in V keep their signs), against the
  // composed V.mul(tf.step(x)) on cpu; exact, being one multiply by 0, 1 or NaN either way.
  const mulStep = (V: tf.Tensor, x: tf.Tensor) => tf.engine().runKernel(MUL_STEP, { V, x }) as tf.Tensor;
  const mulStepPairs: [number[], number[]][] = [[[3, 2, 4], [2, 4]], [[2, 3, 5], [2, 3, 5]], [[1, 4], [3, 1]], [[0, 5], [5]], [[], []], [[10, 4, 3, 2, 2], [4, 3, 2, 2]]];
  for (const [sv, sx] of mulStepPairs) {
    cases.push({ name: `${MUL_STEP} [${sv}] ∘ [${sx}]`, kernel: MUL_STEP, inputs: [inp(sv, 'normal'), inp(sx, 'ties')], run: ([V, x]) => mulStep(V, x), reference: ([V, x]) => V.mul(tf.step(x)), exact: true });
  }
  cases.push({
    name: `${MUL_STEP} special × special`,
    kernel: MUL_STEP,
    inputs: [inp([SPECIAL.length, 1], f32(SPECIAL)), inp([1, SPECIAL.length], f32(SPECIAL))],
    run: ([V, x]) => mulStep(V, x),
    reference: ([V, x]) => V.mul(tf.step(x)),
    exact: true,
  });
  // Mixed dtypes: tfjs casts the int32 operand first.
  cases.push({ name: 'Add int32 + float32', kernel: 'Add', inputs: [inp([2, 3], 'int'), inp([3], 'normal')], run: ([a, b]) => tf.add(a, b) });
  const extra = (name: string, kernel: string, op: Binary, a: Input['kind'], b: Input['kind'], n: number) =>
    cases.push({ name, kernel, inputs: [inp([n], a), inp([n], b)], run: ([x, y]) => op(x, y) });
  // NOTE: where tfjs's backends disagree the native backend follows TensorFlow (and tfjs-wasm, and
  // Python): a float32 FloorDiv is float32 (int32 on tfjs's cpu and webgl), x mod ±Inf is x or ±Inf
  // by the divisor's sign (NaN in tfjs); those cases compare with plain-JS oracles (below).
  extra('FloorDiv float32 output dtype', 'FloorDiv', tf.floorDiv, f32([7, -7, 1.5, -0.5]), f32([2, 2, 0.5, 3]), 4);
  extra('FloorDiv int32 by zero', 'FloorDiv', tf.floorDiv, i32([7, -7, 0, 5]), i32([0, 0, 0, 2]), 4);
  extra('FloorDiv int32 beyond 2^24', 'FloorDiv', tf.floorDiv, i32([16777217, -16777217, 1073741825, 536870913]), i32([1, 1, 3, -2]), 4);
  extra('Mod int32 by zero', 'Mod', tf.mod, i32([7, -7, 0, 5]), i32([0, 0, 0, 2]), 4);
  extra('Mod int32 beyond 2^24', 'Mod', tf.mod, i32([16777217, -16777217, 1073741825, 536870913]), i32([2, 2, 1000, 7]), 4);
  extra('Mod float32 by ±Inf', 'Mod', tf.mod, f32([0, 5, -5, 0, 5, -5]), f32([Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity]), 6);
  extra('Pow int32 beyond 2^24', 'Pow', tf.pow, i32([9, 7, -9, 3, 2]), i32([9, 9, 9, 19, 30]), 5);
  extra('Pow int32 zero to a negative power', 'Pow', tf.pow, i32([0, 2, -2, 1]), i32([-1, -1, -1, -5]), 4);
  byName('FloorDiv float32 output dtype').oracle = {
    why: 'TensorFlow and tfjs-wasm keep float32 (tfjs cpu: int32)',
    compute: ([a, b]) => [binaryOracle(a, b, (x, y) => Math.floor(Math.fround(x / y)), 'float32')],
  };
  byName('Mod float32 by ±Inf').oracle = {
    why: "TensorFlow's and Python's floor modulo: x mod ±Inf is x when the signs agree (or x = 0), else ±Inf (tfjs: NaN)",
    compute: ([a, b]) => [binaryOracle(a, b, (x, y) => (x === 0 || Math.sign(x) === Math.sign(y) ? x : y), 'float32')],
  };
  return cases;
}



export const UNARY_CASES = withFindings(unaryCases(), {});
export const BINARY_CASES = withFindings(binaryCases(), {});
