/** Pieces shared by convolutions and transposed convolutions. */
import type * as tf from '@tensorflow/tfjs-core';
import { ModelSpecError, ShapeError } from '../../errors/index.ts';
import type { Layer } from './types.ts';

interface ChannelSpec {
  in_channels: number;
  out_channels: number;
  groups: number;
}

export function checkChannels(spec: ChannelSpec, inShape: number[], where: string, dims: number): void {
  if (inShape.length !== dims + 1) {
    throw new ShapeError(`${where}: expects input [N, C, ${Array(dims).fill('*').join(', ')}] (${dims} spatial dims), got [N, ${inShape.join(', ')}]`);
  }
  if (inShape[0] !== spec.in_channels) {
    throw new ShapeError(`${where}: expects in_channels=${spec.in_channels}, got input [N, ${inShape.join(', ')}]`);
  }
  if (spec.in_channels % spec.groups !== 0 || spec.out_channels % spec.groups !== 0) {
    throw new ModelSpecError(`${where}: groups=${spec.groups} must divide in_channels=${spec.in_channels} and out_channels=${spec.out_channels}`);
  }
}

/** Bias Jacobianᵀ of any channels-first layer: V [v, n, c, *sp] → [v, n, c] (or [v, c] summed). */
export function biasJacT(layer: Layer<unknown>, _x: tf.Tensor, V: tf.Tensor, sumBatch: boolean): tf.Tensor {
  const [v, n, c] = V.shape;
  const per = V.reshape([v, n, c, -1]).sum(3);
  return sumBatch ? per.sum(1) : per;
}
