/**
 * Whether the device checks can run here, and against what: a usable GPU with the cuda device
 * (or its host emulation, BACKPACK_CUDA_ADDON=…_emu.node), the GPUs visible to this process, and
 * the reference backend (the native cpu device where a BLAS is found, else tfjs's JavaScript cpu).
 */
import { cudaAvailability, loadCudaAddon } from '../../src/backends/cuda/addon.ts';
import { nativeAvailability } from '../../src/backends/native/availability.ts';

export interface DeviceStatus {
  usable: boolean;
  /** Why not, when not usable. */
  reason: string;
  /** The host emulation of the cuda device, not a GPU. */
  emulated: boolean;
  /** GPUs this process sees (CUDA_VISIBLE_DEVICES applies). */
  gpus: number;
  /** e.g. "NVIDIA H200 (sm_90, cuBLAS 13.0.2, FP32)". */
  description: string;
  /** The backend the cuda results are compared with. */
  reference: 'native' | 'cpu';
  referenceLibrary: string;
}

let cached: DeviceStatus | null = null;

export function deviceStatus(): DeviceStatus {
  if (cached) return cached;
  const native = nativeAvailability();
  const reference = native.ok ? 'native' : 'cpu';
  const referenceLibrary = native.ok ? native.library : `tfjs cpu (the native cpu device is unavailable: ${native.reason})`;
  const a = cudaAvailability();
  if (!a.ok) {
    cached = { usable: false, reason: a.reason, emulated: false, gpus: 0, description: '', reference, referenceLibrary };
    return cached;
  }
  const probe = loadCudaAddon().probe();
  const emulated = probe.names.some((n) => /emulated/i.test(n));
  cached = { usable: true, reason: '', emulated, gpus: probe.devices, description: a.library, reference, referenceLibrary };
  return cached;
}
