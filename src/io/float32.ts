/**
 * Host values → float32, the dtype every computation runs in. A value finite in float64 can still
 * overflow float32 (1e300 becomes Infinity), and then the results are NaN while the run "succeeds";
 * so finiteness is checked after the conversion, where it matters, and the message says which.
 */
import { NonFiniteError } from '../errors/index.ts';
import { toFloat64, type HostTensor } from './host-tensor.ts';

/**
 * The values as float32, all finite; otherwise a NonFiniteError with the message `describe` makes
 * from the flat index of the first bad value (e.g. to name the sample) and a description of it.
 */
export function finiteFloat32(t: HostTensor, describe: (index: number, value: string) => string): Float32Array {
  const out = t.data instanceof Float32Array ? t.data : new Float32Array(toFloat64(t));
  if (allFinite(out)) return out;
  for (let j = 0; j < out.length; j++) {
    if (Number.isFinite(out[j])) continue;
    const original = t.data[j];
    const why = typeof original === 'number' && Number.isFinite(original)
      ? `${original}: finite, but beyond float32's largest magnitude ~3.4e38`
      : String(original);
    throw new NonFiniteError(describe(j, why));
  }
  return out;
}

/**
 * x·0 is 0 for every finite x and NaN otherwise: one branch-free pass over a batch's inputs
 * (checked on every run); the exact index is searched for only when something is wrong. Four
 * independent sums, because one sum waits on its previous add each element (2× slower).
 */
function allFinite(v: Float32Array): boolean {
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
