/**
 * Host values → float32, the dtype every computation runs in. A value finite in float64 can still
 * overflow float32 (1e300 becomes Infinity), and then the results are NaN while the run "succeeds";
 * so finiteness is checked after the conversion, where it matters, and the message says which.
 */
import { NonFiniteError } from '../errors/index.ts';
import { allFinite } from './host-loops.ts';
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

