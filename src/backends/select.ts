/**
 * Backend selection. wasm (XNNPACK) is the default, cpu the pure-JS fallback; `tensorflow`
 * (@tensorflow/tfjs-node) is optional and only used where it is installed; `cuda` is our own
 * native backend (native/, built by `npm run build:native`).
 */
import { tf } from '../core/tf.ts';
import { BackendUnavailableError, UsageError } from '../errors/index.ts';
import { BACKEND_NAMES, type BackendName } from '../vocabulary.ts';
import { clearWindowCache } from '../core/ops/windows.ts';
import { guardWasmMalloc } from './wasm-guard.ts';

async function register(name: BackendName): Promise<void> {
  switch (name) {
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return;
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return;
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
      const { requireCudaDevice } = await import('./cuda/addon.ts');
      const probe = requireCudaDevice();
      throw new BackendUnavailableError(
        `backend 'cuda': found ${probe.names.join(', ')}, but this version has only the device probe; the backend's tfjs kernels are not written yet (use --backend wasm)`,
      );
    }
  }
}

/** Activates a backend for this thread; throws a typed error naming what to install when it cannot. */
export async function useBackend(name: string): Promise<BackendName> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`--backend must be one of ${BACKEND_NAMES.join(', ')}; got '${name}'`);
  }
  const backend = name as BackendName;
  if (tf.getBackend() === backend) return backend;
  await register(backend);
  let ok = false;
  try {
    ok = await tf.setBackend(backend);
  } catch {
    ok = false;
  }
  if (!ok) throw new BackendUnavailableError(`backend '${backend}' failed to initialise on this machine`);
  await tf.ready();
  // NOTE: the cpu backend prints a multi-line tfjs-node advert on its first tensor write in Node.
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if (backend === 'cpu' && cpu.firstUse) cpu.firstUse = false;
  if (backend === 'wasm') guardWasmMalloc(tf.backend());
  clearWindowCache();
  return backend;
}
