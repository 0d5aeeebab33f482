/** Target validation shared by the losses: shapes, finiteness, label ranges. */
import { LabelRangeError, ShapeError } from '../../errors/index.ts';
import { finiteFloat32 } from '../../io/float32.ts';
import { toFloat64, type HostTensor } from '../../io/host-tensor.ts';

export const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Float targets of exactly the output's shape, all finite (MSE, BCE, soft-label CE). */
export function floatTargets(y: HostTensor, expected: number[], label: string, loss: string): Float32Array {
  if (!sameShape(y.shape, expected)) {
    throw new ShapeError(`${label}: ${loss} needs targets of shape [${expected.join(', ')}] (the network output), got [${y.shape.join(', ')}]`);
  }
  return finiteFloat32(y, (j, value) => `${label}: target at flat index ${j} is not finite (${value})`);
}

/**
 * Integer class indices in [0, C): `shape` is [n] (one per sample) or torch's K-dimensional form
 * [n, d1, …] (one per sample and position), flattened row-major.
 */
export function classLabels(y: HostTensor, shape: number[], classes: number, label: string, offset = 0): Int32Array {
  const want = `[${shape.join(', ')}]`;
  if (y.dtype !== 'int32' && y.dtype !== 'int64') {
    throw new ShapeError(`${label}: CrossEntropyLoss needs integer class indices of shape ${want} (int32/int64), or class probabilities of the network output's shape; got ${y.dtype} [${y.shape.join(', ')}]`);
  }
  if (!sameShape(y.shape, shape)) throw new ShapeError(`${label}: CrossEntropyLoss needs class indices of shape ${want}, got [${y.shape.join(', ')}]`);
  const values = toFloat64(y);
  const perSample = values.length / shape[0];
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = values[i];
    if (c < 0 || c >= classes) {
      const where = perSample > 1 ? ` at position ${i % perSample}` : '';
      throw new LabelRangeError(`${label}: label ${c} of sample ${offset + Math.floor(i / perSample)}${where} is outside [0, ${classes}) (the network has ${classes} outputs)`);
    }
    out[i] = c;
  }
  return out;
}

/** How far a soft-label row's sum may stray from 1 (float32 rounding of normalised probabilities). */
export const SOFT_LABEL_TOLERANCE = 1e-4;

/**
 * Class probabilities [n, c]: every entry ≥ 0, every row summing to 1 (within the tolerance).
 * NOTE: torch accepts any non-negative rows, but then the loss's Hessian is Σ_c y_c·(diag p − p pᵀ)
 * while the gradient is p·Σ_c y_c − y: a row summing to 3 would triple one and not the other in
 * every quantity built on the hard-label Hessian. Refusing keeps all quantities consistent.
 */
export function checkProbabilityRows(values: Float32Array, n: number, c: number, label: string, offset = 0): void {
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = 0; k < c; k++) {
      const v = values[i * c + k];
      if (v < 0) throw new LabelRangeError(`${label}: soft label ${v} of sample ${offset + i}, class ${k} is negative (class probabilities lie in [0, 1])`);
      sum += v;
    }
    if (Math.abs(sum - 1) > SOFT_LABEL_TOLERANCE) {
      throw new LabelRangeError(`${label}: the class probabilities of sample ${offset + i} sum to ${sum}, not 1 (CrossEntropyLoss soft labels must be distributions, within ${SOFT_LABEL_TOLERANCE})`);
    }
  }
}
