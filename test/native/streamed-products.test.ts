/**
 * Products larger than any cache (BatchGrad's per-sample outer products) are written with
 * streaming stores (native/src/cpu/stream_store.h): the values must be the plain loop's, bit for
 * bit, for rows that start misaligned and end in a partial vector, on one thread and two.
 */
import { expect, it } from 'vitest';
import { tf } from '../../src/core/tf.ts';
import { describeNative, nativeBackend } from './harness.ts';

describeNative('streamed outer products', () => {
  // 24 × 200 × 1001 floats = 19 MB, above the 4 MiB threshold (stream_store.h); 1001 columns misalign rows.
  const [B, I, J] = [24, 200, 1001];
  for (const threads of [1, 2]) {
    it(`[${B},${I},1]·[${B},1,${J}] equals float32 products of its factors (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      await tf.setBackend('native');
      nativeBackend().addon.setThreads(threads);
      try {
        const a = Float32Array.from({ length: B * I }, (_, i) => Math.sin(i) * 3);
        const b = Float32Array.from({ length: B * J }, (_, i) => Math.cos(i * 0.7) / 7);
        const y = tf.tidy(() => tf.mul(tf.tensor3d(a, [B, I, 1]), tf.tensor3d(b, [B, 1, J])));
        const v = y.dataSync();
        let bad = 0;
        for (let n = 0; n < B; n++)
          for (let i = 0; i < I; i++)
            for (let j = 0; j < J; j++) if (v[(n * I + i) * J + j] !== Math.fround(a[n * I + i] * b[n * J + j])) bad++;
        y.dispose();
        expect(bad).toBe(0);
      } finally {
        nativeBackend().addon.setThreads(1);
      }
    });
  }
});
