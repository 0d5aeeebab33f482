/**
 * The `cuda` backend's native addon (native/, built by `npm run build:native`), loaded lazily so
 * nothing else depends on it. What exists today: the device probe and a device smoke test; the tfjs
 * kernels of the backend are not written yet, so `--backend cuda` reports exactly what is missing.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError } from '../../errors/index.ts';

export interface ProbeResult {
  ok: boolean;
  devices: number;
  runtimeVersion: number;
  driverVersion: number;
  error: string;
  /** The cuBLAS library dlopen found ('' if none). */
  cublas: string;
  names: string[];
  computeCapability: number[];
}

export interface CudaAddon {
  probe(): ProbeResult;
  /** a + b on device 0 (a smoke test of the device path). */
  add(a: Float32Array, b: Float32Array): Float32Array;
}

export const ADDON_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../native/build/backpack_cuda.node');

let cached: CudaAddon | null = null;

/** The addon, or a typed error saying how to build it. */
export function loadCudaAddon(): CudaAddon {
  if (cached) return cached;
  if (!existsSync(ADDON_PATH)) {
    throw new BackendUnavailableError("backend 'cuda' needs its native addon: run `npm run build:native` on a machine with nvcc (CUDA toolkit) and an NVIDIA driver");
  }
  cached = createRequire(import.meta.url)(ADDON_PATH) as CudaAddon;
  return cached;
}

/** Checks that a usable GPU is there; throws the probe's own reason otherwise. */
export function requireCudaDevice(): ProbeResult {
  const probe = loadCudaAddon().probe();
  if (!probe.ok) {
    throw new BackendUnavailableError(`backend 'cuda': no usable NVIDIA GPU (${probe.error}; CUDA runtime ${probe.runtimeVersion}, driver ${probe.driverVersion || 'none'})`);
  }
  return probe;
}
