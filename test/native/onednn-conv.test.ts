/**
 * oneDNN's plain convolution products on the cpu device (native/src/cpu/onednn_conv.h): where it
 * is installed, the wide layers' forward, input Jᵀ and weight gradient must really run on it (the
 * device counts them) and equal the composed tf ops on cpu, in every geometry; and a profiler's
 * signals must not break them (Debian's oneDNN 2.6 sgemm corrupts the heap when one interrupts it,
 * bench/blas/dnnl-signal.c; the device holds signals while oneDNN runs). Skipped, saying so, where oneDNN is absent, unless
 * BACKPACK_EXPECT_ONEDNN=1 (CI installs it) makes that a failure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nativeAvailability } from '../../src/backends/native/availability.ts';
import { WIDE_CONV_CASES } from './cases/conv.ts';
import { checkCase, describeNative, nativeBackend } from './harness.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const native = nativeAvailability();
const withOnednn = native.ok && /oneDNN/.test(native.library);

if (process.env.BACKPACK_EXPECT_ONEDNN === '1') {
  describe('oneDNN is expected here (BACKPACK_EXPECT_ONEDNN=1)', () => {
    it('the native backend runs convolutions on oneDNN', () => {
      expect(native.library, `native: ${native.ok ? native.library : native.reason}`).toMatch(/convolutions: oneDNN 2\./);
    });
  });
}

if (!withOnednn) {
  const why = native.ok
    ? `SKIPPED: oneDNN is not in use (${native.library}); ${process.env.BACKPACK_CONV === 'im2col' ? 'BACKPACK_CONV=im2col turns it off' : 'install libdnnl-dev and run `npm run build:native`'}`
    : `SKIPPED: the native backend is unavailable (${native.reason})`;
  console.warn(`oneDNN convolutions: ${why}`);
  describe('oneDNN convolutions', () => it.skip(why, () => {}));
} else {
  describeNative('oneDNN runs the plain conv products of wide layers = composed tf ops on cpu', () => {
    it.each(WIDE_CONV_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const addon = nativeBackend().addon;
      expect(addon.useConvLibrary(true)).toBe(true);
      const before = addon.stats().libraryConvolutions;
      await checkCase(c);
      expect(addon.stats().libraryConvolutions - before, `${c.name}: kernels oneDNN ran`).toBe(1);
    });
  });

  /** Runs in the child: 2c2d's second convolution (fewer samples) on oneDNN for ~3 s, under the profiler. */
  const CHILD = `
import { tf } from './src/core/tf.ts';
import { useBackend } from './src/backends/select.ts';
import { runKernel } from './src/core/ops/fused.ts';
import { CONV_FORWARD, CONV_INPUT_JAC_T, CONV_WEIGHT_GRAD } from './src/core/ops/kernel-names.ts';
import { windowGeometry } from './src/nn/geometry.ts';
await useBackend('native');
const geom = windowGeometry([14, 14], [5, 5], [1, 1], [1, 1], [2, 2], [2, 2], 'conv');
const x = tf.randomNormal([16, 32, 14, 14]), W = tf.randomNormal([64, 32, 5, 5]), V = tf.randomNormal([1, 16, 64, 14, 14]);
let runs = 0, sum = 0;
for (const t0 = Date.now(); Date.now() - t0 < 3000; runs++) {
  tf.tidy(() => {
    const y = runKernel(CONV_FORWARD, { x, W }, { geom, groups: 1 });
    const dx = runKernel(CONV_INPUT_JAC_T, { V: V.reshape([16, 64, 14, 14]), W }, { geom, groups: 1 });
    const dW = runKernel(CONV_WEIGHT_GRAD, { x, V }, { geom, groups: 1 });
    sum += y.sum().dataSync()[0] + dx.sum().dataSync()[0] + dW.sum().dataSync()[0];
  });
}
const stats = tf.engine().findBackend('native').addon.stats();
console.log(JSON.stringify({ runs, finite: Number.isFinite(sum), library: stats.libraryConvolutions }));
`;

  describe('oneDNN convolutions under a profiler', () => {
    it('survive SIGPROF every 50 µs (node --cpu-prof) and stay on oneDNN', () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'bp-prof-'));
      try {
        const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '50', '--cpu-prof-dir', dir, '--import', 'tsx', '--input-type=module', '-e', CHILD], {
          cwd: ROOT, encoding: 'utf8', timeout: 120_000,
        });
        expect(r.status, `child exit ${r.status} (signal ${r.signal}): ${r.stderr.slice(-2000)}`).toBe(0);
        const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { runs: number; finite: boolean; library: number };
        expect(out.finite).toBe(true);
        expect(out.runs).toBeGreaterThan(3);
        expect(out.library).toBe(3 * out.runs);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
