/**
 * BatchMatMul: every transposeA × transposeB over batch dims equal, broadcast ([1, …] vs [b, …] on
 * either side, [2,1] vs [1,3]), of different ranks (2 vs 4, 3 vs 4), with K = 0, M = 0 and
 * 1-wide products; sizes that make the device split one GEMM into blocks along N and along M, or
 * compute it transposed.
 */
import { tf } from '../../../src/core/tf.ts';
import { withFindings, type Case } from '../harness.ts';
import { inp } from '../inputs.ts';
import { matMulOracle } from '../oracles.ts';

/** [batch of a, batch of b, whether tfjs's cpu kernel gets it right]. */
const BATCHES: [number[], number[], boolean][] = [
  [[], [], true],
  [[3], [3], true],
  [[1], [3], true],
  [[3], [1], true],
  [[2, 3], [2, 3], true],
  [[1, 3], [2, 3], true],
  [[2, 3], [1, 1], true],
  [[], [2, 3], true],
  [[2, 3], [], true],
  [[3], [2, 3], true],
  // NOTE: tfjs's cpu BatchMatMul indexes each operand's flattened batch modulo its size, which
  // is only right when one batch shape is a suffix of the other (padded with 1s): these two
  // need the plain-JS oracle ([2,1] × [1,3] even gets an output of the wrong size).
  [[2, 1], [1, 3], false],
  [[2, 1], [2, 3], false],
];

/** [M, K, N]. */
const SIZES: [number, number, number][] = [[4, 5, 3], [1, 7, 1], [5, 0, 4], [0, 3, 2]];

const operand = (batch: number[], rows: number, cols: number, transposed: boolean) => [...batch, ...(transposed ? [cols, rows] : [rows, cols])];

function matMulCases(): Case[] {
  const cases: Case[] = [];
  const add = (batchA: number[], batchB: number[], [M, K, N]: number[], ta: boolean, tb: boolean, cpuRight: boolean) =>
    cases.push({
      name: `BatchMatMul [${batchA}]×[${batchB}] M${M} K${K} N${N}${ta ? ' transposeA' : ''}${tb ? ' transposeB' : ''}`,
      kernel: 'BatchMatMul',
      inputs: [inp(operand(batchA, M, K, ta)), inp(operand(batchB, K, N, tb))],
      run: ([a, b]) => tf.matMul(a, b, ta, tb),
      oracle: cpuRight ? undefined : { why: "tfjs's cpu BatchMatMul broadcasts batch dims by a flat modulo", compute: ([a, b]) => [matMulOracle(a, b, ta, tb)] },
    });
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      for (const [batchA, batchB, cpuRight] of BATCHES) for (const size of SIZES) add(batchA, batchB, size, ta, tb, cpuRight);
      // One GEMM cut into blocks along N (N ≥ M) and along M, N and M not multiples of 16.
      add([], [], [200, 70, 301], ta, tb, true);
      add([], [], [301, 70, 200], ta, tb, true);
      // Short and wide with a large right operand (K·N ≥ 2 Mi): computed as its transpose, then
      // transposed into C; N not a multiple of the 32-wide tiles, M not of 16.
      add([], [], [37, 1030, 2050], ta, tb, true);
    }
  }
  cases.push({
    name: 'BatchMatMul int32 [2,3]×[3,4]',
    kernel: 'BatchMatMul',
    inputs: [inp([2, 3], 'int'), inp([3, 4], 'int')],
    run: ([a, b]) => tf.matMul(a, b),
  });
  // One tensor times itself transposed (XᵀX, XXᵀ): the device's Gram path (syrk on diagonal blocks,
  // GEMMs right of them, the lower triangle mirrored); 300 rows span five blocks, 1 and 64 the edges.
  for (const [n, k] of [[300, 70], [300, 7], [64, 130], [65, 3], [1, 5]]) {
    for (const ta of [false, true]) {
      cases.push({
        name: `BatchMatMul Gram ${ta ? 'XᵀX' : 'XXᵀ'} n${n} k${k}`,
        kernel: 'BatchMatMul',
        inputs: [inp(ta ? [k, n] : [n, k])],
        run: ([x]) => tf.matMul(x, x, ta, !ta),
      });
    }
  }
  return cases;
}

export const MATMUL_CASES = withFindings(matMulCases(), {});
