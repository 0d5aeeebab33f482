/**
 * Registers the `cuda` tfjs backend: the same NativeBackend and the same kernel configs as
 * `native` (src/backends/native/), over this thread's cuda instance of the addon. The backend is
 * device-agnostic: it reads with download() since GPU memory is not host-addressable, and every
 * kernel runs on the device, so a shard's host copies are its inputs going up and its results
 * coming down.
 */
import { tf } from '../../core/tf.ts';
import type { NativeAddon } from '../native/addon.ts';
import { NativeBackend } from '../native/backend.ts';
import { NATIVE_KERNELS } from '../native/register.ts';
import { initCudaDevice } from './addon.ts';

const { registerBackend, registerKernel } = tf;

export const CUDA_BACKEND_NAME = 'cuda';

let registered = false;

export function registerCuda(): void {
  if (registered) return;
  registered = true;
  for (const k of NATIVE_KERNELS) registerKernel({ ...k, backendName: CUDA_BACKEND_NAME });
  registerBackend(CUDA_BACKEND_NAME, () => {
    const { addon, device } = initCudaDevice();
    return new NativeBackend(addon as unknown as NativeAddon, device);
  });
}
