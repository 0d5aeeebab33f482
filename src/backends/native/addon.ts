/**
 * The native addon (native/, built by `npm ci` where a C++ compiler exists, or `npm run build:native`),
 * loaded lazily and once per thread. Every kernel function takes one Float64Array of parameters;
 * the layouts below are the ones native/src/napi/module.cc reads, in order. Handles are buffer
 * numbers (-1: none); dtypes are 0 float32, 1 int32, 2 bool. `window…` is a window geometry:
 * map, S, K, P, nd, then in, kernel, stride, dilation, padLo, out (nd entries each).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../package-root.ts';
import { BackendUnavailableError } from '../../errors/index.ts';
import { registerNativeHostLoops } from '../../io/host-loops.ts';

export interface NativeStats {
  inUse: number;
  cached: number;
  peak: number;
  rawAllocs: number;
  hits: number;
  buffers: number;
  uploads: number;
  downloads: number;
  uploadBytes: number;
  downloadBytes: number;
  /** Convolution products oneDNN ran (cpu device, where installed) instead of the device's kernels. */
  libraryConvolutions: number;
}

export interface NativeAddon {
  /** Creates this thread's device ('cpu' or 'cuda'); throws with what is missing (e.g. no BLAS). */
  init(kind: 'cpu' | 'cuda', threads: number): { kind: string; description: string; threads: number };
  setThreads(threads: number): void;
  /** Whether plain convolutions may run on oneDNN (cpu, where installed); returns whether it is in use. */
  useConvLibrary(on: boolean): boolean;
  alloc(bytes: number): number;
  free(handle: number): void;
  upload(handle: number, data: ArrayBufferView, byteOffset?: number): void;
  download(handle: number, into: ArrayBufferView, byteOffset?: number): void;
  /** A typed array over the buffer itself (cpu only); the buffer lives while the view is reachable. */
  view(handle: number, dtype: number, length: number): Float32Array | Int32Array | Uint8Array;
  stats(): NativeStats;
  /**
   * Returns a view's buffer to the cache now; its ArrayBuffer is kept for the next view of the same
   * block (detached before that block is freed). False for arrays that are not views.
   */
  release(data: ArrayBufferView): boolean;
  /** dst[i] = src[i]·scale between host Float32Array/Float64Array of equal length (no device needed). */
  convert(src: Float32Array | Float64Array, dst: Float32Array | Float64Array, scale: number): void;
  /** Whether no element is NaN or ±Infinity (no device needed). */
  allFinite(values: Float32Array): boolean;
  /** out [mean; M2] from values [s; S1; S2] over n samples, in double (no device needed). */
  shiftedMoments(values: Float32Array, n: number, out: Float64Array): void;
  /** Whether an array is one of this thread's views. */
  isView(data: ArrayBufferView): boolean;
  setCacheLimit(bytes: number): void;
  /** [y, dtype, n, value] */
  fill(p: Float64Array): void;
  /** [op, tin, tout, x, y, n, a, b] */
  unary(p: Float64Array): void;
  /** [op, tin, tout, a, b, y, nd, shape…, aStrides…, bStrides…] */
  binary(p: Float64Array): void;
  /** [dtype, cond, a, b, y, nd, shape…, condStrides…, aStrides…, bStrides…] */
  select(p: Float64Array): void;
  /** [tin, tout, x, y, n] */
  cast(p: Float64Array): void;
  /** [esize, x, xOffset, y, yOffset, nd, shape…, xStrides…, yStrides…] */
  copy(p: Float64Array): void;
  /** [op, dtype, x, y, outNd, outShape…, outStrides…, redNd, redShape…, redStrides…] */
  reduce(p: Float64Array): void;
  /** [isMax, dtype, x, y, outer, axis, inner] */
  argReduce(p: Float64Array): void;
  /** [esize, x, indices, y, batch, outer, axisLen, nIdx, inner] */
  gather(p: Float64Array): void;
  /** [dtype, indices, y, n, depth, on, off] */
  oneHot(p: Float64Array): void;
  /** [x, y, rows, cols] */
  softmax(p: Float64Array): void;
  /** [v, n, O, I, V, x, rows, sum (−1: none)] */
  outerProducts(p: Float64Array): void;
  /** [window…, B, C, cb, cc, ck, cp, x, cols, padValue] */
  unfold(p: Float64Array): void;
  /** the same layout; x is the destination */
  fold(p: Float64Array): void;
  /** [window…, BC, x, y, arg] */
  maxPool(p: Float64Array): void;
  /** [window…, v, BC, arg, V, y] */
  maxPoolJacT(p: Float64Array): void;
  maxPoolJvp(p: Float64Array): void;
  /** [transA, transB, M, N, K, alpha, beta, A, aOff, lda, B, bOff, ldb, C, cOff, ldc, nd, batch…, aStrides…, bStrides…, cStrides…] */
  gemm(p: Float64Array): void;
  /** [kind, window…, n, v, C, O, G, x, W, bias, V, shift, y, mode] */
  conv(p: Float64Array): void;
  /** Present where the addon was built with nvcc. */
  probe?: () => unknown;
}

export const NATIVE_ADDON_PATH = path.join(PACKAGE_ROOT, 'native/build/backpack_native.node');

let cached: NativeAddon | null = null;

/** The addon, or a typed error saying how to get it. */
export function loadNativeAddon(): NativeAddon {
  if (cached) return cached;
  if (!existsSync(NATIVE_ADDON_PATH)) {
    throw new BackendUnavailableError(
      "backend 'native' needs its addon, which is built when `npm ci` finds a C++ compiler: install one (apt-get install g++) and run `npm run build:native`",
    );
  }
  try {
    cached = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
    // An addon built before these loops existed still loads; io then keeps its JS loops.
    if ([cached.convert, cached.allFinite, cached.shiftedMoments].every((f) => typeof f === 'function')) registerNativeHostLoops(cached);
  } catch (e) {
    throw new BackendUnavailableError(`backend 'native': its addon failed to load (${(e as Error).message.split('\n')[0]}); rebuild it with \`npm run build:native\``);
  }
  return cached;
}
