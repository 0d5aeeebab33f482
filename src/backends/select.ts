/**
 * Backend selection. `auto` (the default) takes the first that works on this machine:
 *   cuda (a usable NVIDIA GPU and the addon's cuda device) → native (the addon built, a BLAS found)
 *   → wasm (XNNPACK; needs nothing). `cpu` is tfjs's pure-JS backend (the autodiff oracles' backend);
 * `tensorflow` (@tensorflow/tfjs-node) is optional and used only where it is installed.
 */
import { tf } from '../core/tf.ts';
import { BackendUnavailableError, UsageError } from '../errors/index.ts';
import { BACKEND_CHOICES, type BackendChoice, type BackendName } from '../vocabulary.ts';
import { nativeAvailability } from './native/availability.ts';
import { configureNative, registerNative } from './native/register.ts';
import { guardWasmMalloc } from './wasm-guard.ts';

export interface BackendOptions {
  /** Kernel/BLAS threads of this thread's native backend (--threads-per-worker; default 1). */
  threads?: number;
}

async function register(name: BackendName): Promise<void> {
  switch (name) {
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return;
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return;
    case 'native': {
      const a = nativeAvailability();
      if (!a.ok) throw new BackendUnavailableError(`backend 'native' cannot run here: ${a.reason}`);
      registerNative();
      return;
    }
    case 'tensorflow':
      try {
        await import(/* optional dependency */ '@tensorflow/tfjs-node' as string);
      } catch {
        throw new BackendUnavailableError(
          "backend 'tensorflow' needs the optional package @tensorflow/tfjs-node (npm install @tensorflow/tfjs-node@4.22.0; its install downloads libtensorflow, so it needs internet access)",
        );
      }
      return;
    case 'cuda': {
      // Throws the typed reason (no GPU, no cuBLAS, an addon built without nvcc) before registering.
      const { initCudaDevice } = await import('./cuda/addon.ts');
      initCudaDevice();
      const { registerCuda } = await import('./cuda/register.ts');
      registerCuda();
      return;
    }
  }
}

export interface Resolved {
  backend: BackendName;
  /** Why the backends before it in auto's order were passed over ('' for an explicit choice). */
  why: string;
  /** What the backend computes with, e.g. "OpenBLAS 0.3.21 (Haswell)" (native), "XNNPACK" (wasm). */
  library: string;
}

/** Turns a --backend choice into the backend to use, without activating it. */
export async function resolveBackend(choice: string): Promise<Resolved> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new UsageError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}; got '${choice}'`);
  }
  const c = choice as BackendChoice;
  const native = nativeAvailability();
  const { cudaAvailability } = await import('./cuda/addon.ts');
  const library = (b: BackendName) =>
    b === 'native' ? native.library : b === 'cuda' ? cudaAvailability().library : b === 'wasm' ? 'XNNPACK (tfjs-backend-wasm)' : b === 'cpu' ? 'JavaScript (tfjs-backend-cpu)' : '';
  if (c !== 'auto') return { backend: c, why: '', library: library(c) };
  const skipped: string[] = [];
  const cuda = cudaAvailability();
  if (cuda.ok) return { backend: 'cuda', why: '', library: cuda.library };
  skipped.push(`cuda: ${cuda.reason}`);
  if (native.ok) return { backend: 'native', why: skipped.join('; '), library: native.library };
  skipped.push(`native: ${native.reason}`);
  return { backend: 'wasm', why: skipped.join('; '), library: library('wasm') };
}

/** Activates a backend for this thread; throws a typed error naming what to install when it cannot. */
export async function useBackend(name: string, opts: BackendOptions = {}): Promise<BackendName> {
  const { backend } = await resolveBackend(name);
  const threads = Math.max(1, opts.threads ?? 1);
  if (backend === 'native') configureNative({ device: 'cpu', threads });
  // Creates the device (or throws why not) and applies BACKPACK_TF32, also when cuda is already active.
  if (backend === 'cuda') (await import('./cuda/addon.ts')).initCudaDevice();
  if (tf.getBackend() === backend) {
    if (backend === 'native') (tf.backend() as unknown as { addon: { setThreads(n: number): void } }).addon.setThreads(threads);
    return backend;
  }
  await register(backend);
  let ok = false;
  let failure = '';
  try {
    ok = await tf.setBackend(backend);
  } catch (e) {
    failure = (e as Error).message;
  }
  if (!ok) throw new BackendUnavailableError(`backend '${backend}' failed to initialise on this machine${failure ? `: ${failure}` : ''}`);
  await tf.ready();
  // NOTE: the cpu backend prints a multi-line tfjs-node advert on its first tensor write in Node.
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if (backend === 'cpu' && cpu.firstUse) cpu.firstUse = false;
  if (backend === 'wasm') guardWasmMalloc(tf.backend());
  return backend;
}
