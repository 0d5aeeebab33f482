/** Target validation shared by the losses: shapes, finiteness, label ranges. */
import { LabelRangeError, NonFiniteError, ShapeError } from '../../errors/index.ts';
import { toFloat64, type HostTensor } from '../../io/host-tensor.ts';

export const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Float targets of exactly the output's shape, all finite (MSE, BCE, soft-label CE). */
export function floatTargets(y: HostTensor, expected: number[], label: string, loss: string): Float32Array {
  if (!sameShape(y.shape, expected)) {
    throw new ShapeError(`${label}: ${loss} needs targets of shape [${expected.join(', ')}] (the network output), got [${y.shape.join(', ')}]`);
  }
  const values = toFloat64(y);
  for (let j = 0; j < values.length; j++) {
    if (!Number.isFinite(values[j])) throw new NonFiniteError(`${label}: target at flat index ${j} is ${values[j]}`);
  }
  return new Float32Array(values);
}

/** Integer class indices in [0, C), one per sample. */
export function classLabels(y: HostTensor, n: number, classes: number, label: string, offset = 0): Int32Array {
  if (y.dtype !== 'int32' && y.dtype !== 'int64') {
    throw new ShapeError(`${label}: CrossEntropyLoss needs integer class indices of shape [${n}] (int32/int64), or class probabilities of shape [${n}, ${classes}]; got ${y.dtype} [${y.shape.join(', ')}]`);
  }
  if (!sameShape(y.shape, [n])) throw new ShapeError(`${label}: CrossEntropyLoss needs class indices of shape [${n}], got [${y.shape.join(', ')}]`);
  const values = toFloat64(y);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = values[i];
    if (c < 0 || c >= classes) throw new LabelRangeError(`${label}: label ${c} of sample ${offset + i} is outside [0, ${classes}) (the network has ${classes} outputs)`);
    out[i] = c;
  }
  return out;
}
