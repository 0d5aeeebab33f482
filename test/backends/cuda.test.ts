/**
 * The cuda backend on a machine without a GPU: the addon (when built) loads, its probe reports why
 * there is no device, and `--backend cuda` fails with a typed error naming the reason — never a
 * crash. Where the addon is not built, the error says how to build it.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADDON_PATH, loadCudaAddon } from '../../src/backends/cuda/addon.ts';
import { useBackend } from '../../src/backends/select.ts';
import { BackendUnavailableError } from '../../src/errors/index.ts';
import { runCli } from '../helpers/cli.ts';

const built = existsSync(ADDON_PATH);

describe('cuda backend without a GPU', () => {
  it.runIf(built)('the addon loads and its probe explains the missing device', () => {
    const probe = loadCudaAddon().probe();
    expect(typeof probe.runtimeVersion).toBe('number');
    if (!probe.ok) {
      expect(probe.devices).toBe(0);
      expect(probe.error).toMatch(/cuda\w*Error|no CUDA device/i);
    }
  });

  it.runIf(built)('the device smoke test either adds on the GPU or throws the CUDA error', () => {
    const addon = loadCudaAddon();
    const a = Float32Array.from([1, 2, 3]);
    const b = Float32Array.from([10, 20, 30]);
    if (addon.probe().ok) expect(Array.from(addon.add(a, b))).toEqual([11, 22, 33]);
    else expect(() => addon.add(a, b)).toThrow(/cuda\w*Error/);
  });

  it('useBackend("cuda") is a typed, explained error', async () => {
    await expect(useBackend('cuda')).rejects.toThrow(BackendUnavailableError);
    await expect(useBackend('cuda')).rejects.toThrow(built ? /no usable NVIDIA GPU|tfjs kernels are not written yet/ : /npm run build:native/);
  });

  it('the CLI exits with the environment code and the reason', async () => {
    const r = await runCli(['run', '--model', 'm.json', '--weights', 'w', '--inputs', 'x', '--targets', 'y', '--out', '/tmp/none', '--backend', 'cuda', '--quiet']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/\[E_BACKEND_UNAVAILABLE\].*cuda/);
  });
});
