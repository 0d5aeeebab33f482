/**
 * Tensors over 2^31 bytes: a float32 tensor of 600 M elements (2.4 GB) made by BroadcastTo from a
 * column of row indices, through Add with a broadcast scalar, Sum (all and per row), Slice and a
 * dataSync() view, spot-checked at both ends against closed forms: a 32-bit byte or element
 * offset anywhere would misplace the last rows. NOTE: needs ~5 GB at its peak; skipped (saying so)
 * when less than 8 GB is free.
 */
import os from 'node:os';
import { expect, it } from 'vitest';
import { tf } from '../../src/core/tf.ts';
import { describeNative, nativeBackend } from './harness.ts';

const ROWS = 600_000;
const COLS = 1000;
const N = ROWS * COLS;
const FREE_GB = os.freemem() / 2 ** 30;
const ENOUGH = FREE_GB >= 8;

describeNative('native tensors over 2^31 bytes', () => {
  const title = `a [${ROWS}, ${COLS}] float32 tensor (${((N * 4) / 1e9).toFixed(1)} GB): BroadcastTo, Add (broadcast scalar), Sum, Slice, dataSync`;
  if (!ENOUGH) {
    const why = `SKIPPED: only ${FREE_GB.toFixed(1)} GB of memory free (needs 8): ${title}`;
    console.warn(why);
    it.skip(why, () => {});
    return;
  }
  it(title, async () => {
    await tf.setBackend('native');
    // NOTE: most of this test is the kernel touching 4.8 GB of fresh pages (~10 µs each on our VMs): two threads halve it.
    nativeBackend().addon.setThreads(2);
    const start = tf.memory().numTensors;
    const rowIndex = tf.tensor2d(Float32Array.from({ length: ROWS }, (_, i) => i), [ROWS, 1]);
    let z: tf.Tensor | null = null;
    try {
      // y[i, j] = i, then z = y + 0.75: every row holds its own index (exact in float32).
      const y = tf.engine().runKernel('BroadcastTo', { x: rowIndex }, { shape: [ROWS, COLS] }) as tf.Tensor;
      const big = tf.tidy(() => tf.add(y, tf.scalar(0.75)));
      z = big;
      y.dispose();
      expect(big.size * 4).toBeGreaterThan(2 ** 31);

      const ends = tf.tidy(() => [big.slice([0, 0], [1, 4]), big.slice([ROWS - 1, COLS - 4], [1, 4])].map((t) => Array.from(t.dataSync())));
      expect(ends[0]).toEqual([0.75, 0.75, 0.75, 0.75]);
      expect(ends[1]).toEqual(Array(4).fill(ROWS - 1 + 0.75));

      const rowSums = tf.tidy(() => tf.sum(big, 1).slice([ROWS - 2], [2]).dataSync());
      expect(Array.from(rowSums)).toEqual([COLS * (ROWS - 2 + 0.75), COLS * (ROWS - 1 + 0.75)].map(Math.fround));
      const total = tf.tidy(() => tf.sum(big).dataSync()[0]);
      const exact = COLS * (ROWS * 0.75 + (ROWS * (ROWS - 1)) / 2);
      expect(Math.abs(total - exact) / exact).toBeLessThan(1e-6);

      // The read itself: a view over the whole buffer, indexed past 2^31 bytes.
      const view = big.dataSync();
      expect(view.length).toBe(N);
      expect([view[0], view[N / 2], view[N - 1]]).toEqual([0.75, ROWS / 2 + 0.75, ROWS - 1 + 0.75]);
    } finally {
      z?.dispose();
      rowIndex.dispose();
      nativeBackend().addon.setThreads(1);
    }
    expect(tf.memory().numTensors).toBe(start);
  }, 120_000);
});
