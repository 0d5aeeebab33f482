/**
 * Reductions over every subset of axes (and axis = null) of rank 0–4 tensors, keepDims both ways,
 * including size-0 and size-1 dims and empty reductions; NaN and ±Inf for Max/Min/Sum; int32 and
 * bool inputs; shapes large enough for the device's column-block loop. ArgMax/ArgMin over every
 * axis, with ties (first index wins) and NaN.
 */
import { tf } from '../../../src/core/tf.ts';
import { withFindings, type Case } from '../harness.ts';
import { inp, type Kind } from '../inputs.ts';

type Axis = number[] | null;
type Reduce = (x: tf.Tensor, axis: Axis, keepDims: boolean) => tf.Tensor;

const REDUCE: [string, Reduce, Kind, Kind[]][] = [
  ['Sum', (x, a, k) => tf.sum(x, a ?? undefined, k), 'normal', ['special', 'int', 'bool']],
  ['Max', (x, a, k) => tf.max(x, a ?? undefined, k), 'normal', ['special', 'int']],
  ['Min', (x, a, k) => tf.min(x, a ?? undefined, k), 'normal', ['special', 'int']],
  ['Prod', (x, a, k) => tf.prod(x, a ?? undefined, k), 'normal', ['int']],
  ['Mean', (x, a, k) => tf.mean(x, a ?? undefined, k), 'normal', ['special', 'int']],
  ['Any', (x, a, k) => tf.any(x, a ?? undefined, k), 'bool', []],
  ['All', (x, a, k) => tf.all(x, a ?? undefined, k), 'bool', []],
];

/** Every subset of 0..rank-1, then null (all axes). */
export function axisSubsets(rank: number): Axis[] {
  const out: Axis[] = [];
  for (let m = 0; m < 1 << rank; m++) out.push([...Array(rank).keys()].filter((d) => m & (1 << d)));
  return [...out, null];
}

const SHAPES = [[], [5], [3, 4], [2, 3, 4], [3, 2, 4, 5], [1, 3, 1, 2]];
const EMPTY_SHAPES = [[0], [3, 0, 2]];
/** Kept axes innermost and wider than the device's 512-column blocks; one output; one row each. */
const LARGE: [number[], Axis][] = [[[70, 600], [0]], [[70, 600], [1]], [[4, 3, 700], [0, 1]], [[300, 300], null]];

/**
 * The identity of each reduction, for empty ones. NOTE: tfjs's cpu backend starts Max, Min and All
 * from the first element even when there is none (Max/Min give NaN, All false) and gives 0 for the
 * mean of nothing; these are the identities TensorFlow returns (int32: the lowest/highest int32).
 */
const IDENTITY: Record<string, { float: number; int?: number; dtype?: tf.DataType }> = {
  Max: { float: -Infinity, int: -2147483648 },
  Min: { float: Infinity, int: 2147483647 },
  Mean: { float: NaN, dtype: 'float32' },
  All: { float: 1, dtype: 'bool' },
};

function emptyOracle(kernel: string, shape: number[], axis: Axis, keepDims: boolean): Case['oracle'] {
  const id = IDENTITY[kernel];
  const axes = axis === null ? shape.map((_, d) => d) : axis.map((a) => (a < 0 ? a + shape.length : a));
  if (!id || !axes.some((d) => shape[d] === 0)) return undefined;
  const outShape = keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
  const n = outShape.reduce((p, d) => p * d, 1);
  return {
    why: `tfjs's cpu ${kernel} of an empty reduction is not its identity`,
    compute: ([x]) => {
      const dtype = id.dtype ?? x.dtype;
      return [{ shape: outShape, dtype, values: new Array<number>(n).fill(dtype === 'int32' ? id.int! : id.float) }];
    },
  };
}

function reduceCases(): Case[] {
  const cases: Case[] = [];
  for (const [kernel, f, kind, extra] of REDUCE) {
    const add = (shape: number[], axis: Axis, keepDims: boolean, k: Kind) =>
      cases.push({
        name: `${kernel} ${k} [${shape}] axis ${axis === null ? 'null' : `[${axis}]`}${keepDims ? ' keepDims' : ''}`,
        kernel,
        inputs: [inp(shape, k)],
        run: ([x]) => f(x, axis, keepDims),
        oracle: emptyOracle(kernel, shape, axis, keepDims),
      });
    for (const shape of [...SHAPES, ...EMPTY_SHAPES]) {
      for (const axis of axisSubsets(shape.length)) for (const keep of [false, true]) add(shape, axis, keep, kind);
    }
    for (const k of extra) {
      for (const axis of axisSubsets(3)) add([2, 3, 4], axis, false, k);
      add([3, 0, 2], [1], true, k);
    }
    // Negative axes count from the end.
    add([2, 3, 4], [-1, -3], false, kind);
    for (const [shape, axis] of LARGE) add(shape, axis, false, kind);
  }
  return cases;
}

const ARG: [string, (x: tf.Tensor, axis: number) => tf.Tensor][] = [
  ['ArgMax', (x, a) => tf.argMax(x, a)],
  ['ArgMin', (x, a) => tf.argMin(x, a)],
];

function argCases(): Case[] {
  const cases: Case[] = [];
  for (const [kernel, f] of ARG) {
    for (const shape of [[5], [3, 4], [2, 3, 4], [3, 2, 4, 5], [1, 3, 1, 2], [3, 0, 2]]) {
      for (let axis = 0; axis < shape.length; axis++) {
        // Skip arg-reductions over an empty axis (no answer exists); others with size-0 dims stay.
        if (shape[axis] === 0) continue;
        for (const k of ['normal', 'ties'] as Kind[]) {
          cases.push({ name: `${kernel} ${k} [${shape}] axis ${axis}`, kernel, inputs: [inp(shape, k)], run: ([x]) => f(x, axis) });
        }
      }
    }
    for (const k of ['special', 'int', 'bool'] as Kind[]) {
      for (const axis of [0, 1, 2, -1]) cases.push({ name: `${kernel} ${k} [4,3,5] axis ${axis}`, kernel, inputs: [inp([4, 3, 5], k)], run: ([x]) => f(x, axis) });
    }
    cases.push({ name: `${kernel} normal [300,700] axis 1`, kernel, inputs: [inp([300, 700])], run: ([x]) => f(x, 1) });
  }
  return cases;
}

export const REDUCE_CASES = withFindings(reduceCases(), {});
export const ARG_CASES = argCases();
