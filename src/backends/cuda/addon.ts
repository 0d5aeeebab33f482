/**
 * The `cuda` backend's side of the native addon: the device probe (built where nvcc exists; cudart
 * is linked statically, so it runs and explains itself on machines without CUDA) and whether the
 * cuda device can be used here.
 */
import { BackendUnavailableError } from '../../errors/index.ts';
import { loadNativeAddon } from '../native/addon.ts';

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

export interface CudaProbe {
  probe(): ProbeResult;
  /** a + b on device 0 (a smoke test of the device path). */
  cudaSmokeAdd(a: Float32Array, b: Float32Array): Float32Array;
}

/** The probe functions, or a typed error saying how to get them. */
export function loadCudaProbe(): CudaProbe {
  const addon = loadNativeAddon() as unknown as Partial<CudaProbe>;
  if (!addon.probe || !addon.cudaSmokeAdd) {
    throw new BackendUnavailableError("backend 'cuda': the native addon was built without nvcc; install the CUDA toolkit and run `npm run build:native`");
  }
  return addon as CudaProbe;
}

/** Checks that a usable GPU is there; throws the probe's own reason otherwise. */
export function requireCudaDevice(): ProbeResult {
  const probe = loadCudaProbe().probe();
  if (!probe.ok) {
    throw new BackendUnavailableError(`backend 'cuda': no usable NVIDIA GPU (${probe.error}; CUDA runtime ${probe.runtimeVersion}, driver ${probe.driverVersion || 'none'})`);
  }
  return probe;
}

/** Whether `auto` may pick cuda, and if not why (for the one line auto prints). */
export function cudaAvailability(): { ok: boolean; reason: string; library: string } {
  try {
    const probe = requireCudaDevice();
    return { ok: false, reason: `found ${probe.names.join(', ')}, but the cuda device's kernels are not built yet`, library: '' };
  } catch (e) {
    return { ok: false, reason: (e as Error).message.replace(/^backend 'cuda': /, ''), library: '' };
  }
}
