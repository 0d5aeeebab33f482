/**
 * Loops over host arrays that every run makes: float32 ⇄ float64 conversions of partial sums (a
 * gradient read as float32, summed in float64, handed back as float32), a shard's moments from its
 * shifted sums (Variance), and the finiteness check of a batch's inputs. V8 converts between typed arrays of different types element by element (~1.5 ns
 * each: 0.7 ms of an MLP's 2.3 ms gradient run here), so where the native addon is loaded its
 * vectorised loops do these, with the same results.
 *
 * io depends on no backend: the addon registers its loops here when it loads (loadNativeAddon).
 */

type FloatArray = Float32Array | Float64Array;

export interface NativeHostLoops {
  convert(src: FloatArray, dst: FloatArray, scale: number): void;
  allFinite(values: Float32Array): boolean;
  shiftedMoments(values: Float32Array, n: number, out: Float64Array): void;
}

let native: NativeHostLoops | null = null;

/** Below this many elements the call into the addon costs more than V8's loop saves. */
const NATIVE_MIN = 2048;

/** Lets the native addon's loops serve the functions below (null: JS loops only). */
export function registerNativeHostLoops(loops: NativeHostLoops | null): void {
  native = loops;
}

/** out[j] = src[j], widened exactly to float64. */
export function widenInto(out: Float64Array, src: ArrayLike<number>): void {
  if (native && out.length >= NATIVE_MIN && (src instanceof Float32Array || src instanceof Float64Array)) native.convert(src, out, 1);
  else out.set(src);
}

/** out[j] = src[j]·scale in float64. */
export function scaledInto(out: Float64Array, src: Float64Array, scale: number): void {
  if (native && out.length >= NATIVE_MIN) native.convert(src, out, scale);
  else for (let j = 0; j < out.length; j++) out[j] = src[j] * scale;
}

/** out[j] = src[j]·scale, computed in float64 and rounded to float32 once. */
export function narrowInto(out: Float32Array, src: Float64Array, scale = 1): void {
  if (native && out.length >= NATIVE_MIN) native.convert(src, out, scale);
  else if (scale === 1) out.set(src);
  else scaleLoop(out, src, scale);
}

/** Four elements a step (~1.5× the plain loop in V8 here). */
function scaleLoop(out: Float32Array, src: Float64Array, scale: number): void {
  const n = out.length;
  const whole = n - (n % 4);
  let j = 0;
  for (; j < whole; j += 4) {
    out[j] = src[j] * scale;
    out[j + 1] = src[j + 1] * scale;
    out[j + 2] = src[j + 2] * scale;
    out[j + 3] = src[j + 3] * scale;
  }
  for (; j < n; j++) out[j] = src[j] * scale;
}

/**
 * Whether every value is finite. In JS: x·0 is 0 for every finite x and NaN otherwise, one
 * branch-free pass; four independent sums, because one sum waits on its previous add each element
 * (2× slower).
 */
export function allFinite(v: Float32Array): boolean {
  if (native && v.length >= NATIVE_MIN) return native.allFinite(v);
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  const whole = v.length - (v.length % 4);
  let j = 0;
  for (; j < whole; j += 4) {
    a0 += v[j] * 0;
    a1 += v[j + 1] * 0;
    a2 += v[j + 2] * 0;
    a3 += v[j + 3] * 0;
  }
  for (; j < v.length; j++) a0 += v[j] * 0;
  return a0 + a1 + a2 + a3 === 0;
}

/**
 * out = [mean; M2] from values = [s; S1; S2] (|shape| each) over n samples: mean = s + S1/n,
 * M2 = S2 − S1²/n in float64 (shard-moments.ts says why).
 */
export function shiftedMomentsInto(out: Float64Array, values: ArrayLike<number>, n: number): void {
  const width = out.length / 2;
  if (native && width >= NATIVE_MIN && values instanceof Float32Array) {
    native.shiftedMoments(values, n, out);
    return;
  }
  for (let j = 0; j < width; j++) {
    const s1 = values[width + j];
    out[j] = values[j] + s1 / n;
    out[width + j] = values[2 * width + j] - (s1 * s1) / n;
  }
}
