/**
 * The cuda backend as the rest of the program sees it: `auto` picks it, TF32 is off unless asked
 * for (and then really changes the GEMMs on a GPU), and out-of-memory is a typed error.
 */
import { loadCudaAddon } from '../../src/backends/cuda/addon.ts';
import { resolveBackend, useBackend } from '../../src/backends/select.ts';
import { tf } from '../../src/core/tf.ts';
import { mulberry32 } from '../../src/data/prng.ts';
import { assert, type DeviceCheck } from './harness.ts';
import { deviceStatus } from './status.ts';

export function miscChecks(): DeviceCheck[] {
  return [
    {
      group: 'backend',
      name: "resolveBackend('auto') picks cuda; useBackend('cuda') is NativeBackend over the cuda device",
      async run(env) {
        const r = await resolveBackend('auto');
        assert(r.backend === 'cuda', `auto resolved to ${r.backend} (${r.why})`);
        await useBackend('cuda');
        const b = tf.backend() as unknown as { device: { kind: string }; hostAddressable: boolean };
        assert(tf.getBackend() === 'cuda' && b.device.kind === 'cuda' && !b.hostAddressable, 'the active backend is not the cuda device');
        env.log(`  ${r.library}`);
      },
    },
    {
      group: 'backend',
      name: 'TF32 off by default; on, it changes a large GEMM by 1e-6…1e-2 (GPU only)',
      async run(env) {
        await useBackend('cuda');
        const addon = loadCudaAddon();
        assert(addon.cudaInfo().tf32 === false, 'TF32 is on by default');
        const r = mulberry32(5);
        const a = Float32Array.from({ length: 512 * 512 }, () => r() * 2 - 1);
        const b = Float32Array.from({ length: 512 * 512 }, () => r() * 2 - 1);
        const product = () => tf.tidy(() => tf.matMul(tf.tensor2d(a, [512, 512]), tf.tensor2d(b, [512, 512])).dataSync() as Float32Array);
        const fp32 = product();
        addon.cudaSetTf32(true);
        let tf32: Float32Array;
        try {
          tf32 = product();
        } finally {
          addon.cudaSetTf32(false);
        }
        let worst = 0, scale = 0;
        for (let i = 0; i < fp32.length; i++) {
          worst = Math.max(worst, Math.abs(fp32[i] - tf32[i]));
          scale = Math.max(scale, Math.abs(fp32[i]));
        }
        const rel = worst / scale;
        env.log(`  TF32 vs FP32 on 512³: max relative difference ${rel.toExponential(2)}`);
        assert(rel < 1e-2, `TF32 differs from FP32 by ${rel}`);
        if (!deviceStatus().emulated) assert(rel > 1e-6, `TF32 on changed nothing (${rel}): is cublasSetMathMode honoured?`);
      },
    },
    {
      group: 'backend',
      name: 'an allocation beyond the GPU is a typed error, and the device stays usable',
      async run() {
        await useBackend('cuda');
        const addon = loadCudaAddon();
        const total = addon.cudaInfo().memTotal;
        let message = '';
        try {
          addon.alloc(total * 2);
        } catch (e) {
          message = (e as Error).message;
        }
        assert(/out of cuda memory/.test(message), `allocating twice the GPU's memory gave '${message}'`);
        const y = tf.tidy(() => tf.add(tf.ones([4]), tf.ones([4])).dataSync());
        assert(y[0] === 2, 'the device is unusable after an out-of-memory error');
      },
    },
  ];
}
