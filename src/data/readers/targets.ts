/**
 * Targets, held in memory (one label or a few floats per row, small beside the inputs):
 * int64 [N] class indices, or float32 [N, …].
 */
import { TensorFileError, UsageError } from '../../errors/index.ts';
import { toFloat64, type HostTensor } from '../../io/host-tensor.ts';

export type TargetsKind = 'class' | 'float';

export interface Targets {
  tensor: HostTensor;
  kind: TargetsKind;
  /** Class count: the declared one, else max label + 1. */
  classes?: number;
}

export interface TargetOptions {
  targetsKind?: TargetsKind;
  classes?: number;
}

/**
 * Class targets from label values: integers in [0, classes). `classes` is the declared count
 * (CIFAR-10's 10, or the option); without one it is max + 1. The message names the row.
 */
export function classTargets(values: ArrayLike<number>, label: string, classes?: number): Targets {
  const data = new BigInt64Array(values.length);
  let max = -1;
  for (let n = 0; n < values.length; n++) {
    const v = values[n];
    if (!Number.isInteger(v) || v < 0 || (classes !== undefined && v >= classes)) {
      const range = classes === undefined ? 'a non-negative integer' : `in [0, ${classes})`;
      throw new TensorFileError(`${label}: row ${n}: label ${v} is not ${range}`);
    }
    data[n] = BigInt(v);
    if (v > max) max = v;
  }
  return { tensor: { dtype: 'int64', shape: [values.length], data }, kind: 'class', classes: classes ?? max + 1 };
}

export function floatTargets(t: HostTensor): Targets {
  const data = t.data instanceof Float32Array ? t.data : Float32Array.from(toFloat64(t));
  return { tensor: { dtype: 'float32', shape: [...t.shape], data }, kind: 'float' };
}

/**
 * Tensor-file rule (.npy, .npz, .safetensors): an integer dtype with one value per row is class
 * labels, anything else float targets; `targetsKind` overrides.
 */
export function targetsFromTensor(t: HostTensor, label: string, opts: TargetOptions): Targets {
  const integer = t.dtype === 'int32' || t.dtype === 'int64';
  const kind = opts.targetsKind ?? (integer && t.shape.length === 1 ? 'class' : 'float');
  if (kind === 'float') return floatTargets(t);
  if (t.shape.length !== 1) {
    throw new TensorFileError(`${label}: class targets need one label per row (shape [N]), got [${t.shape.join(', ')}]`);
  }
  return classTargets(toFloat64(t), label, opts.classes);
}

export function checkTargetOptions(opts: TargetOptions): void {
  const { targetsKind, classes } = opts;
  if (targetsKind !== undefined && targetsKind !== 'class' && targetsKind !== 'float') {
    throw new UsageError(`targetsKind must be 'class' or 'float', got ${JSON.stringify(targetsKind)}`);
  }
  if (classes !== undefined && !(Number.isSafeInteger(classes) && classes > 0)) {
    throw new UsageError(`classes must be a positive integer, got ${JSON.stringify(classes)}`);
  }
  if (classes !== undefined && targetsKind === 'float') throw new UsageError(`classes applies only to class targets, but targetsKind is 'float'`);
}
