/**
 * OUTER_PRODUCTS (native only): a Linear layer's per-sample weight gradients V_vn x_nᵀ and their
 * sum over n, against the same math composed from tf ops on the cpu backend (a broadcast multiply
 * and a matMul). The rows are float products either way, so they must match exactly; the sum
 * to float tolerance. Shapes with one vector and two, widths that leave a partial vector at the end of
 * each row, widths of whole vectors (register tiles), empty batches and layers, and products above
 * the 4 MiB from which rows are streamed.
 */
import { tf } from '../../../src/core/tf.ts';
import { OUTER_PRODUCTS } from '../../../src/core/ops/kernel-names.ts';
import type { Case } from '../harness.ts';
import { inp } from '../inputs.ts';
import { call } from './shape.ts';

const SHAPES: [v: number, n: number, O: number, I: number][] = [
  [1, 5, 3, 7],
  [2, 4, 5, 33],
  [1, 1, 1, 1],
  [1, 0, 3, 4],
  [2, 3, 0, 5],
  [1, 64, 20, 1001],
  // Widths a multiple of 16 take the AVX-512 register tiles (64 and 16 columns wide, blocks of 4
  // rows; the 9th row the row-by-row path), small and streamed.
  [2, 7, 9, 80],
  [1, 40, 32, 1040],
];

const rowsOf = (V: tf.Tensor, x: tf.Tensor) => {
  const [v, n, O] = V.shape;
  return V.reshape([v, n, O, 1]).mul(x.reshape([1, n, 1, x.shape[1]!]));
};
const sumOf = (V: tf.Tensor, x: tf.Tensor) => {
  const [v, n, O] = V.shape;
  if (n === 0) return tf.zeros([v, O, x.shape[1]!]);
  return tf.matMul(V.transpose([0, 2, 1]), x.reshape([1, n, x.shape[1]!]).tile([v, 1, 1]));
};

export const OUTER_CASES: Case[] = SHAPES.flatMap(([v, n, O, I]) => {
  const inputs = [inp([v, n, O]), inp([n, I])];
  const run = ([V, x]: tf.Tensor[]) => call(OUTER_PRODUCTS, { V, x }) as tf.Tensor[];
  return [
    {
      name: `${OUTER_PRODUCTS} rows v${v} n${n} O${O} I${I}`,
      kernel: OUTER_PRODUCTS,
      inputs,
      run: (xs: tf.Tensor[]) => run(xs)[0],
      reference: ([V, x]: tf.Tensor[]) => rowsOf(V, x),
      exact: true,
    },
    {
      name: `${OUTER_PRODUCTS} sum v${v} n${n} O${O} I${I}`,
      kernel: OUTER_PRODUCTS,
      inputs,
      run: (xs: tf.Tensor[]) => run(xs)[1],
      reference: ([V, x]: tf.Tensor[]) => sumOf(V, x),
    },
  ];
});
