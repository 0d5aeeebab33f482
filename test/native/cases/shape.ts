/**
 * Data movement: Reshape, ExpandDims, Squeeze, Identity, Transpose (every permutation of rank
 * 0–4), Slice, StridedSlice (strides, negative strides, every mask), Concat (size-0 parts),
 * SplitV, Pack, Unpack, Tile, PadV2, Reverse (every axis subset), BroadcastTo; float32, int32 and
 * bool data, size-0 and size-1 dims. All compared exactly.
 */
import { tf } from '../../../src/core/tf.ts';
import { withFindings, type Case, type Out } from '../harness.ts';
import { inp, type Input, type Kind } from '../inputs.ts';
import { binaryOracle, stridedSliceOracle } from '../oracles.ts';
import { axisSubsets } from './reduce.ts';

type Attrs = Parameters<ReturnType<typeof tf.engine>['runKernel']>[2];
/** A kernel called directly (both backends have it, or no tf op passes these attributes). */
export const call = (name: string, inputs: Record<string, tf.Tensor>, attrs: object = {}) => tf.engine().runKernel(name, inputs, attrs as Attrs) as Out;

const DTYPES: Kind[] = ['normal', 'int', 'bool'];

const one = (kernel: string, label: string, inputs: Input[], run: Case['run'], reference?: Case['run']): Case => ({
  name: `${kernel} ${label}`,
  kernel,
  inputs,
  run,
  reference,
  exact: true,
});

export function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

function transposeCases(): Case[] {
  const cases: Case[] = [];
  for (const shape of [[], [5], [3, 4], [2, 3, 4], [2, 3, 4, 5]]) {
    for (const perm of permutations(shape.length)) {
      cases.push(one('Transpose', `[${shape}] perm [${perm}]`, [inp(shape)], ([x]) => call('Transpose', { x }, { perm })));
    }
  }
  for (const shape of [[2, 0, 3], [1, 3, 1, 2]]) {
    for (const perm of permutations(shape.length)) {
      cases.push(one('Transpose', `[${shape}] perm [${perm}]`, [inp(shape)], ([x]) => call('Transpose', { x }, { perm })));
    }
  }
  for (const k of ['int', 'bool'] as Kind[]) cases.push(one('Transpose', `${k} [2,3,4] perm [2,0,1]`, [inp([2, 3, 4], k)], ([x]) => call('Transpose', { x }, { perm: [2, 0, 1] })));
  return cases;
}

/** [x shape, begin, end, strides, beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask]. */
const STRIDED: [number[], number[], number[], number[], number, number, number, number, number][] = [
  [[10], [1], [8], [2], 0, 0, 0, 0, 0],
  [[10], [8], [1], [-3], 0, 0, 0, 0, 0],
  [[10], [-3], [10], [1], 0, 0, 0, 0, 0],
  [[10], [0], [0], [-1], 1, 1, 0, 0, 0],
  [[10], [3], [3], [1], 0, 0, 0, 0, 0],
  [[5, 6, 7], [1, 0, 2], [4, 6, 7], [1, 2, 3], 0, 0, 0, 0, 0],
  [[5, 6, 7], [1, 5, 2], [4, 0, 7], [2, -2, 1], 0b101, 0b010, 0, 0, 0],
  [[5, 6, 7], [4, 5, 6], [0, 0, 0], [-1, -2, -3], 0, 0b111, 0, 0, 0],
  [[5, 6, 7], [1], [3], [1], 0, 0, 0b1, 0, 0],
  [[5, 6, 7], [0, 2, 1], [1, 5, 6], [1, 1, 2], 0, 0, 0, 0, 0b1],
  [[5, 6, 7], [1, 0, 2], [3, 0, 5], [1, 1, 1], 0, 0, 0, 0b10, 0],
  [[5, 6, 7], [2, 1], [3, 4], [1, 2], 0, 0, 0, 0, 0b01],
  [[2, 3, 4, 5], [1, 0, 0, 1], [2, 3, 4, 5], [1, 2, 3, 2], 0, 0, 0, 0, 0b0001],
  [[3, 0, 4], [1, 0, 1], [3, 0, 4], [1, 1, 2], 0, 0, 0, 0, 0],
];

function movementCases(): Case[] {
  const cases: Case[] = [];
  const add = (c: Case) => cases.push(c);
  // Reshape, ExpandDims, Squeeze (no tf op reaches the kernel: tf.squeeze reshapes), Identity.
  for (const [from, to] of [[[2, 3, 4], [4, 6]], [[2, 3, 4], [6, -1]], [[0, 3], [3, 0]], [[], [1, 1]], [[5], [5, 1, 1]]]) {
    for (const k of DTYPES) add(one('Reshape', `${k} [${from}] → [${to}]`, [inp(from, k)], ([x]) => tf.reshape(x, to)));
  }
  for (const [shape, axis] of [[[2, 3], 0], [[2, 3], 2], [[2, 3], -1], [[], 0], [[0, 2], 1]] as [number[], number][]) {
    add(one('ExpandDims', `[${shape}] axis ${axis}`, [inp(shape)], ([x]) => tf.expandDims(x, axis)));
  }
  for (const [shape, axis] of [[[1, 3, 1, 2], [0]], [[1, 3, 1, 2], [0, 2]], [[1, 3, 1, 2], []], [[1, 1], []], [[2, 1, 0], [1]]] as [number[], number[]][]) {
    add(one('Squeeze', `[${shape}] axis [${axis}]`, [inp(shape)], ([x]) => call('Squeeze', { x }, { axis }), ([x]) => tf.squeeze(x, axis.length ? axis : undefined)));
  }
  for (const k of DTYPES) add(one('Identity', `${k} [2,3]`, [inp([2, 3], k)], ([x]) => tf.clone(x)));
  // Slice.
  for (const [shape, begin, size] of [
    [[5], [1], [3]], [[4, 5], [1, 0], [2, -1]], [[2, 3, 4], [1, 1, 1], [1, 2, 3]], [[2, 3, 4, 5], [0, 1, 2, 3], [2, 1, 2, 2]],
    [[4, 5], [4, 0], [0, 5]], [[3, 0, 2], [1, 0, 0], [2, 0, 2]], [[6], [6], [0]],
  ] as number[][][]) {
    for (const k of DTYPES) add(one('Slice', `${k} [${shape}] begin [${begin}] size [${size}]`, [inp(shape, k)], ([x]) => tf.slice(x, begin, size)));
  }
  for (const [shape, b, e, s, bm, em, el, na, sh] of STRIDED) {
    const c = one('StridedSlice', `[${shape}] ${b}:${e}:${s} masks ${bm},${em},${el},${na},${sh}`, [inp(shape)], ([x]) => tf.stridedSlice(x, b, e, s, bm, em, el, na, sh));
    // NOTE: tfjs's cpu StridedSlice (outside its contiguous fast path) walks the output shape with
    // shrunk dims removed but indexes begin/strides as if they were there.
    if (sh) c.oracle = { why: "tfjs's cpu StridedSlice misreads shrinkAxisMask", compute: ([x]) => [stridedSliceOracle(x, b, e, s, [bm, em, el, na, sh])] };
    add(c);
  }
  add(one('StridedSlice', 'int32 [5,6,7] 1:5:2', [inp([5, 6, 7], 'int')], ([x]) => tf.stridedSlice(x, [1, 0, 0], [5, 6, 7], [2, 2, 2])));
  add(one('StridedSlice', 'bool [5,6,7] reversed', [inp([5, 6, 7], 'bool')], ([x]) => tf.stridedSlice(x, [4, 5, 6], [0, 0, 0], [-1, -1, -1], 0, 0b111)));
  // Concat (incl. size-0 parts, all parts empty).
  for (const [shapes, axis] of [
    [[[2, 3], [4, 3]], 0], [[[2, 3], [2, 1], [2, 4]], 1], [[[2, 3], [2, 3]], -1], [[[2, 3, 4], [2, 1, 4], [2, 2, 4]], 1],
    [[[2, 0], [2, 3], [2, 0]], 1], [[[0, 3], [2, 3]], 0], [[[0, 3], [0, 3]], 0], [[[2, 0], [2, 0]], 0], [[[1, 2, 3, 4], [1, 2, 3, 1]], 3],
  ] as [number[][], number][]) {
    for (const k of DTYPES) add(one('Concat', `${k} [${shapes.map((s) => `[${s}]`)}] axis ${axis}`, shapes.map((s) => inp(s, k)), (xs) => tf.concat(xs, axis)));
  }
  // SplitV.
  for (const [shape, splits, axis] of [
    [[6, 4], 3, 0], [[6, 4], [1, -1, 2], 0], [[2, 9], [2, 0, 7], 1], [[2, 3, 4], 2, -1], [[3, 0, 2], [1, 2], 0], [[4], 1, 0],
  ] as [number[], number | number[], number][]) {
    for (const k of DTYPES) add(one('SplitV', `${k} [${shape}] into ${JSON.stringify(splits)} axis ${axis}`, [inp(shape, k)], ([x]) => tf.split(x, splits, axis)));
  }
  // Pack and Unpack.
  for (const [shape, axis] of [[[3], 0], [[3], 1], [[2, 3], 1], [[2, 3], 2], [[2, 3], -1], [[], 0], [[2, 0], 1]] as [number[], number][]) {
    for (const k of DTYPES) add(one('Pack', `${k} 3 × [${shape}] axis ${axis}`, [inp(shape, k), inp(shape, k), inp(shape, k)], (xs) => tf.stack(xs, axis)));
  }
  for (const [shape, axis] of [[[3, 4], 0], [[3, 4], 1], [[2, 3, 4], 2], [[2, 3, 4], -2], [[2, 0], 0], [[1, 5], 0]] as [number[], number][]) {
    for (const k of DTYPES) add(one('Unpack', `${k} [${shape}] axis ${axis}`, [inp(shape, k)], ([x]) => tf.unstack(x, axis)));
  }
  // Tile, PadV2, Reverse, BroadcastTo.
  for (const [shape, reps] of [[[3], [2]], [[3], [0]], [[2, 3], [2, 1]], [[2, 3], [1, 3]], [[2, 1, 3], [2, 3, 1]], [[1, 2, 1, 2], [2, 1, 3, 2]], [[2, 0], [3, 2]]]) {
    for (const k of DTYPES) add(one('Tile', `${k} [${shape}] reps [${reps}]`, [inp(shape, k)], ([x]) => tf.tile(x, reps)));
  }
  for (const [shape, pads, value] of [
    [[3], [[1, 2]], 0], [[2, 3], [[0, 0], [2, 1]], 1.5], [[2, 3, 4], [[1, 0], [0, 2], [3, 1]], -2], [[2, 0], [[1, 1], [1, 1]], 7],
    [[1, 2, 1, 2], [[1, 1], [0, 0], [2, 0], [0, 3]], 0],
  ] as [number[], [number, number][], number][]) {
    add(one('PadV2', `[${shape}] ${JSON.stringify(pads)} value ${value}`, [inp(shape)], ([x]) => tf.pad(x, pads, value)));
    add(one('PadV2', `int32 [${shape}] ${JSON.stringify(pads)} value ${Math.round(value)}`, [inp(shape, 'int')], ([x]) => tf.pad(x, pads, Math.round(value))));
  }
  for (const shape of [[5], [3, 4], [2, 3, 4], [2, 3, 1, 2]]) {
    for (const axis of axisSubsets(shape.length)) {
      if (axis === null) continue;
      add(one('Reverse', `[${shape}] axis [${axis}]`, [inp(shape)], ([x]) => tf.reverse(x, axis)));
    }
  }
  for (const k of ['int', 'bool'] as Kind[]) add(one('Reverse', `${k} [3,4] axis [1]`, [inp([3, 4], k)], ([x]) => tf.reverse(x, [1])));
  // BroadcastTo: tf.broadcastTo tiles; the native kernel is called directly.
  for (const [from, to] of [[[3, 1], [2, 3, 4]], [[], [2, 2]], [[1], [0, 1]], [[2, 1, 3], [2, 4, 3]], [[1, 1, 1, 1], [2, 1, 3, 2]], [[4], [3, 4]]]) {
    for (const k of DTYPES) {
      const c = one('BroadcastTo', `${k} [${from}] → [${to}]`, [inp(from, k)], ([x]) => call('BroadcastTo', { x }, { shape: to }), ([x]) => tf.broadcastTo(x, to));
      if (to.includes(0)) {
        c.oracle = {
          why: 'tf.broadcastTo returns its input unchanged when the target shape has a size-0 dim (it only tiles dims > 1)',
          compute: ([x]) => [binaryOracle(x, { shape: to, dtype: x.dtype, values: [] }, (v) => v, x.dtype)],
        };
      }
      add(c);
    }
  }
  return cases;
}

export const TRANSPOSE_CASES = transposeCases();
const shrinkMisaligned =
  'native StridedSlice with shrinkAxisMask copies over the output shape with shrunk dims removed but passes the strides of every input dim: the copy reads the wrong elements';

export const MOVEMENT_CASES = withFindings(movementCases(), {});
