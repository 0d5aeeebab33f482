/**
 * Whether the native backend can run here, and if not, exactly what is missing: the addon (no C++
 * compiler at install time) or a BLAS library. Checked once per thread; creating the device is
 * what finds the BLAS.
 */
import { loadNativeAddon } from './addon.ts';

export interface Availability {
  ok: boolean;
  /** What is missing, when not ok. */
  reason: string;
  /** The GEMM library in use, e.g. "OpenBLAS 0.3.21 (Haswell)". */
  library: string;
}

let cached: Availability | null = null;

export function nativeAvailability(): Availability {
  if (cached) return cached;
  try {
    const addon = loadNativeAddon();
    const device = addon.init('cpu', 1);
    cached = { ok: true, reason: '', library: device.description };
  } catch (e) {
    cached = { ok: false, reason: (e as Error).message, library: '' };
  }
  return cached;
}
