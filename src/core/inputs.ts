/** Checks a shard's inputs against the network before any math runs. */
import { ShapeError } from '../errors/index.ts';
import { finiteFloat32 } from '../io/float32.ts';
import { numel, type HostTensor } from '../io/host-tensor.ts';
import { LOSSES } from '../nn/losses/index.ts';
import type { Network } from '../nn/network.ts';
import { tf } from './tf.ts';

/** Inputs [n, *input_shape] as float32, all finite; the message names the first bad sample. */
export function checkedInputs(x: HostTensor, inputShape: number[], label: string, offset = 0): Float32Array {
  const expected = inputShape;
  const got = x.shape.slice(1);
  if (x.shape.length !== expected.length + 1 || got.some((d, i) => d !== expected[i])) {
    throw new ShapeError(`${label}: shape [${x.shape.join(', ')}] does not match the model's input_shape [${expected.join(', ')}] (expected [N, ${expected.join(', ')}])`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new ShapeError(`${label}: inputs must be float32 or float64, got ${x.dtype}`);
  const per = numel(expected);
  return finiteFloat32(x, (j, value) => `${label}: sample ${offset + Math.floor(j / per)} holds a non-finite value (${value}) at feature ${j % per}`);
}

/** Rows [start, start+count) of a host tensor (a view, no copy). */
export function sliceRows(t: HostTensor, start: number, count: number): HostTensor {
  const per = numel(t.shape.slice(1));
  const data = t.data.subarray(start * per, (start + count) * per) as HostTensor['data'];
  return { dtype: t.dtype, shape: [count, ...t.shape.slice(1)], data };
}

/** Validates a whole batch's targets once, before any shard runs (labels in range, finite, shapes). */
export function checkTargets(net: Network, targets: HostTensor, offset = 0): void {
  tf.tidy(() => {
    LOSSES[net.loss.type].targets(targets, net.outputShape, 'targets', offset);
  });
}
