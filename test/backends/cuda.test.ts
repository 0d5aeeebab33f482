/**
 * The cuda backend on a machine without a GPU: the addon (when built with nvcc) loads, its probe
 * reports why there is no device, and `--backend cuda` fails with a typed error naming the reason
 * — never a crash. Where the addon has no probe, the error says how to build it.
 */
import { describe, expect, it } from 'vitest';
import { loadCudaProbe } from '../../src/backends/cuda/addon.ts';
import { nativeAvailability } from '../../src/backends/native/availability.ts';
import { resolveBackend, useBackend } from '../../src/backends/select.ts';
import { BackendUnavailableError } from '../../src/errors/index.ts';
import { runCli } from '../helpers/cli.ts';

const withProbe = (() => {
  try {
    loadCudaProbe();
    return true;
  } catch {
    return false;
  }
})();

describe('cuda backend without a GPU', () => {
  it.runIf(withProbe)('the addon loads and its probe explains the missing device', () => {
    const probe = loadCudaProbe().probe();
    expect(typeof probe.runtimeVersion).toBe('number');
    if (!probe.ok) {
      expect(probe.devices).toBe(0);
      expect(probe.error).toMatch(/cuda\w*Error|no CUDA device/i);
    }
  });

  it.runIf(withProbe)('the device smoke test either adds on the GPU or throws the CUDA error', () => {
    const addon = loadCudaProbe();
    const a = Float32Array.from([1, 2, 3]);
    const b = Float32Array.from([10, 20, 30]);
    if (addon.probe().ok) expect(Array.from(addon.cudaSmokeAdd(a, b))).toEqual([11, 22, 33]);
    else expect(() => addon.cudaSmokeAdd(a, b)).toThrow(/cuda\w*Error/);
  });

  it('useBackend("cuda") is a typed, explained error', async () => {
    await expect(useBackend('cuda')).rejects.toThrow(BackendUnavailableError);
    await expect(useBackend('cuda')).rejects.toThrow(withProbe ? /no usable NVIDIA GPU/ : /npm run build:native|built without nvcc/);
  });

  it.runIf(withProbe)('cuBLAS is looked for only at cuda init; its absence names the libraries tried', () => {
    const r = (loadCudaProbe() as unknown as { cublasProbe(): { ok: boolean; path: string; error: string } }).cublasProbe();
    if (r.ok) expect(r.path).toMatch(/libcublas\.so\.1[23]/);
    else expect(r.error).toMatch(/cuBLAS not found \(libcublas\.so\.13 or libcublas\.so\.12.*BACKPACK_CUBLAS/s);
  });

  it("auto passes over cuda with the reason, and the cuda kernels are the native ones", async () => {
    const r = await resolveBackend('auto');
    expect(r.backend).not.toBe('cuda');
    expect(r.why).toMatch(/^cuda: /);
    const { registerCuda } = await import('../../src/backends/cuda/register.ts');
    const { NATIVE_KERNELS } = await import('../../src/backends/native/register.ts');
    const { getKernel } = await import('@tensorflow/tfjs-core');
    registerCuda();
    for (const k of NATIVE_KERNELS) expect(getKernel(k.kernelName, 'cuda')?.kernelFunc, k.kernelName).toBe(k.kernelFunc);
  });

  it('the CLI exits with the environment code and the reason', async () => {
    const r = await runCli(['run', '--model', 'm.json', '--weights', 'w', '--inputs', 'x', '--targets', 'y', '--out', '/tmp/none', '--backend', 'cuda', '--quiet']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/\[E_BACKEND_UNAVAILABLE\].*cuda/);
  });

  it('the native addon reports its availability either way', () => {
    const a = nativeAvailability();
    if (a.ok) expect(a.library).toMatch(/BLAS|MKL|oneDNN|BLIS/i);
    else expect(a.reason).toMatch(/npm run build:native|BLAS|libopenblas/);
  });
});
