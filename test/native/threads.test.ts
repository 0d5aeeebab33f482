/**
 * The device's invariant that results never depend on the thread count (GEMM blocks, reduction
 * order and per-chunk sums over samples are fixed by the shapes, oneDNN's convolutions included):
 * the cases of the tables most exposed to it give bitwise the same values with 1 and with 2 threads.
 */
import { expect, it } from 'vitest';
import { CONV_CASES, WIDE_CONV_CASES } from './cases/conv.ts';
import { MATMUL_CASES } from './cases/matmul.ts';
import { OUTER_CASES } from './cases/outer.ts';
import { REDUCE_CASES } from './cases/reduce.ts';
import { compareHost, describeNative, nativeBackend, nativeOutputs, type Case } from './harness.ts';

const PICKED: Case[] = [
  ...MATMUL_CASES.filter((c) => /M(200|301|37) /.test(c.name)),
  ...CONV_CASES.filter((c) => c.name.endsWith(' n20') && /^(forward|inputJacT|weightGrad|weightSquares sum|weightSquares norms|inputGram) /.test(c.name)),
  ...WIDE_CONV_CASES.filter((c) => c.name.endsWith(' n20')), // on oneDNN where it is installed
  ...REDUCE_CASES.filter((c) => /normal \[(70,600|4,3,700|300,300)\]/.test(c.name)),
  ...OUTER_CASES.filter((c) => / n64 /.test(c.name)), // streamed rows, sums per block of rows
];

describeNative('native results do not depend on the thread count', () => {
  it.each(PICKED.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const addon = nativeBackend().addon;
    try {
      addon.setThreads(1);
      const one = await nativeOutputs(c);
      addon.setThreads(2);
      const two = await nativeOutputs(c);
      expect(two.length).toBe(one.length);
      two.forEach((t, i) => compareHost(t, one[i], { exact: true }, `${c.name} with 2 threads [output ${i}]`));
    } finally {
      addon.setThreads(1);
    }
  });
});
