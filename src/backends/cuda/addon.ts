/**
 * The `cuda` backend's side of the native addon. The addon is one binary with a cpu and a cuda
 * device, but a Node thread's instance of it holds one device; the cuda backend therefore opens
 * its *own* instance (`process.dlopen` of the same file makes a second, independent instance
 * with its own device, allocator and buffer table), so `native` and `cuda` can live side by side
 * in one thread (the conformance checks compare them). cudart is linked statically: the probe
 * runs and explains itself on machines without CUDA; cuBLAS is opened only when the cuda device
 * is created.
 *
 * BACKPACK_CUDA_ADDON=/path/to/backpack_native_emu.node loads the host emulation of the device
 * instead (`node scripts/build-native.mjs --cuda-emulation`): the device suite's logic runs
 * without a GPU, on a CPU-speed stand-in.
 */
import { existsSync } from 'node:fs';
import { BackendUnavailableError } from '../../errors/index.ts';
import { NATIVE_ADDON_PATH, type NativeAddon } from '../native/addon.ts';

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

export interface CudaInfo {
  name: string;
  computeCapability: number;
  tf32: boolean;
  cublasPath: string;
  cublasVersion: number;
  /** cudaMalloc / cudaFree calls of the caching allocator so far. */
  rawMallocs: number;
  rawFrees: number;
  memFree: number;
  memTotal: number;
}

/** The addon instance of the cuda backend: the native surface plus the cuda hooks (napi/cuda_hooks.cc). */
export interface CudaAddon extends Omit<NativeAddon, 'probe'>, CudaProbe {
  cudaInfo(): CudaInfo;
  cudaSetTf32(on: boolean): boolean;
  cudaSynchronize(): void;
  /** The fused convolutions' workspace per chunk of samples, in floats (≤ 0: the default, 256 MiB). */
  cudaSetConvChunkFloats(floats: number): void;
  cublasProbe(): { ok: boolean; path: string; error: string };
}

/** The addon file the cuda backend opens. */
export function cudaAddonPath(): string {
  return process.env.BACKPACK_CUDA_ADDON || NATIVE_ADDON_PATH;
}

let instance: CudaAddon | null = null;

/** This thread's cuda instance of the addon, or a typed error saying how to get one. */
export function loadCudaAddon(): CudaAddon {
  if (instance) return instance;
  const file = cudaAddonPath();
  if (!existsSync(file)) {
    throw new BackendUnavailableError(
      "backend 'cuda' needs the native addon built with nvcc: install the CUDA toolkit and a C++ compiler, then run `npm run build:native`",
    );
  }
  const module = { exports: {} as Partial<CudaAddon> };
  try {
    process.dlopen(module, file);
  } catch (e) {
    throw new BackendUnavailableError(`backend 'cuda': the native addon failed to load (${(e as Error).message.split('\n')[0]}); rebuild it with \`npm run build:native\``);
  }
  if (!module.exports.probe || !module.exports.cudaInfo) {
    throw new BackendUnavailableError("backend 'cuda': the native addon was built without nvcc; install the CUDA toolkit and run `npm run build:native`");
  }
  instance = module.exports as CudaAddon;
  return instance;
}

/** The probe functions, or a typed error saying how to get them. */
export function loadCudaProbe(): CudaProbe {
  return loadCudaAddon();
}

/** Checks that a usable GPU is there; throws the probe's own reason otherwise. */
export function requireCudaDevice(): ProbeResult {
  const probe = loadCudaProbe().probe();
  if (!probe.ok) {
    throw new BackendUnavailableError(`backend 'cuda': no usable NVIDIA GPU (${probe.error}; CUDA runtime ${probe.runtimeVersion}, driver ${probe.driverVersion || 'none'})`);
  }
  return probe;
}

export interface CudaDeviceInfo {
  kind: string;
  description: string;
  threads: number;
}

let device: CudaDeviceInfo | null = null;

/**
 * Creates (once per thread) the cuda device of device 0 of CUDA_VISIBLE_DEVICES: a usable GPU and
 * cuBLAS, or a typed error naming what is missing. BACKPACK_TF32=1 (what --tf32 sets) turns TF32
 * GEMMs on; they are off otherwise.
 */
export function initCudaDevice(): { addon: CudaAddon; device: CudaDeviceInfo } {
  const addon = loadCudaAddon();
  if (!device) {
    requireCudaDevice();
    try {
      device = addon.init('cuda', 1);
    } catch (e) {
      throw new BackendUnavailableError(`backend 'cuda': ${(e as Error).message}`);
    }
  }
  addon.cudaSetTf32(tf32Requested());
  return { addon, device: { ...device, description: describe(addon) } };
}

/** Whether this process asked for TF32 GEMMs (--tf32, passed to workers as BACKPACK_TF32=1). */
export function tf32Requested(): boolean {
  const v = process.env.BACKPACK_TF32;
  return Boolean(v) && v !== '0';
}

function describe(addon: CudaAddon): string {
  const i = addon.cudaInfo();
  const v = i.cublasVersion;
  return `${i.name} (sm_${i.computeCapability}, cuBLAS ${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}, ${i.tf32 ? 'TF32' : 'FP32'})`;
}

let availability: { ok: boolean; reason: string; library: string } | null = null;

/** Whether `auto` may pick cuda, and if not why (for the one line auto prints). Checked once per thread. */
export function cudaAvailability(): { ok: boolean; reason: string; library: string } {
  // The library line says FP32 or TF32: described afresh, since --tf32 may differ between runs of one process.
  if (availability?.ok) return { ...availability, library: initCudaDevice().device.description };
  if (availability) return availability;
  try {
    const { device: d } = initCudaDevice();
    availability = { ok: true, reason: '', library: d.description };
  } catch (e) {
    availability = { ok: false, reason: (e as Error).message.replace(/^backend 'cuda': /, ''), library: '' };
  }
  return availability;
}
