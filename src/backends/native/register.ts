/**
 * Registers the `native` backend and its kernels with tfjs (once per thread: tfjs's registry is
 * per module instance, and each worker thread has its own).
 */
import { tf } from '../../core/tf.ts';
import { setHostDataLender } from '../../io/host-tensor.ts';
import { loadNativeAddon } from './addon.ts';
import { NativeBackend } from './backend.ts';
import { convKernels } from './kernels/conv.ts';
import { elementwiseKernels } from './kernels/elementwise.ts';
import { gatherKernels } from './kernels/gather.ts';
import { matMulKernels } from './kernels/matmul.ts';
import { outerKernels } from './kernels/outer.ts';
import { reduceKernels } from './kernels/reduce.ts';
import { shapeKernels } from './kernels/shape.ts';
import { BACKEND_NAME } from './kernels/util.ts';
import { windowKernels } from './kernels/windows.ts';

const { registerBackend, registerKernel } = tf;

export const NATIVE_KERNELS = [...elementwiseKernels, ...reduceKernels, ...shapeKernels, ...gatherKernels, ...matMulKernels, ...windowKernels, ...convKernels, ...outerKernels];

export interface NativeOptions {
  device: 'cpu' | 'cuda';
  /** Kernel and BLAS threads of this thread's backend (--threads-per-worker). */
  threads: number;
}

let registered = false;
let options: NativeOptions = { device: 'cpu', threads: 1 };

/** Sets what the backend is created with (before its first use on this thread), or retunes it after. */
export function configureNative(o: NativeOptions): void {
  options = o;
}

export function registerNative(): void {
  if (registered) return;
  registered = true;
  for (const k of NATIVE_KERNELS) registerKernel(k);
  registerBackend(BACKEND_NAME, () => {
    const addon = loadNativeAddon();
    setHostDataLender({ lent: (data) => addon.isView(data), release: (data) => addon.release(data) });
    return new NativeBackend(addon, addon.init(options.device, options.threads));
  });
}
