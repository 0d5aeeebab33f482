/**
 * float32 ⇄ float64 conversions of host arrays, as partial sums make them every run (a gradient
 * read as float32, summed in float64, handed back as float32). V8 converts between typed arrays of
 * different types element by element (~1.5 ns each: 0.7 ms of an MLP's 2.3 ms gradient run here),
 * so where the native addon is loaded its vectorised loop does it, with the same rounding.
 *
 * io depends on no backend: the addon registers its loop here when it loads (loadNativeAddon).
 */

type FloatArray = Float32Array | Float64Array;
type Convert = (src: FloatArray, dst: FloatArray, scale: number) => void;

let nativeConvert: Convert | null = null;

/** Below this many elements the call into the addon costs more than V8's loop saves. */
const NATIVE_MIN = 2048;

/** Lets the native addon's conversion loop serve the functions below (null: JS loops only). */
export function registerNativeConvert(fn: Convert | null): void {
  nativeConvert = fn;
}

/** out[j] = src[j], widened exactly to float64. */
export function widenInto(out: Float64Array, src: ArrayLike<number>): void {
  if (nativeConvert && out.length >= NATIVE_MIN && (src instanceof Float32Array || src instanceof Float64Array)) nativeConvert(src, out, 1);
  else out.set(src);
}

/** out[j] = src[j]·scale, computed in float64 and rounded to float32 once. */
export function narrowInto(out: Float32Array, src: Float64Array, scale = 1): void {
  if (nativeConvert && out.length >= NATIVE_MIN) nativeConvert(src, out, scale);
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
