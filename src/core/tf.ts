/**
 * The one place that imports tfjs-core. tfjs-core's package entry (what Node resolves) does not
 * install the chained tensor methods (x.reshape(...), x.sum(...)); its ESM files that would cannot
 * be imported by Node. We install them here, each forwarding to the op of the same name exactly as
 * tfjs-core's own chained_ops files do; their types come from chained-ops.d.ts.
 */
import type * as Core from '@tensorflow/tfjs-core';
import { core } from './tfjs-core.ts';

/** tfjs-core's values. Every other file takes them from here (types may be imported directly). */
export const tf: typeof Core = core;
/** tfjs-core's types under `tf.`, as with a namespace import. */
export declare namespace tf {
  export type Tensor<R extends Core.Rank = Core.Rank> = Core.Tensor<R>;
  export type Tensor1D = Core.Tensor1D;
  export type Tensor2D = Core.Tensor2D;
  export type Tensor3D = Core.Tensor3D;
  export type Tensor4D = Core.Tensor4D;
  export type Tensor5D = Core.Tensor5D;
  export type Scalar = Core.Scalar;
  export type Rank = Core.Rank;
  export type DataType = Core.DataType;
  export type TensorLike = Core.TensorLike;
  export type TensorInfo = Core.TensorInfo;
  export type NamedTensorMap = Core.NamedTensorMap;
}

const FORWARDED = [
  'abs', 'acos', 'acosh', 'add', 'all', 'any', 'argMax', 'argMin', 'asin', 'asinh', 'atan', 'atan2', 'atanh',
  'batchNorm', 'batchToSpaceND', 'cast', 'ceil', 'clipByValue', 'concat', 'conv1d', 'conv2d', 'cos', 'cosh',
  'cumprod', 'cumsum', 'depthToSpace', 'div', 'divNoNan', 'dot', 'elu', 'equal', 'erf', 'euclideanNorm',
  'exp', 'expandDims', 'expm1', 'fft', 'floor', 'floorDiv', 'gather', 'greater', 'greaterEqual', 'ifft',
  'irfft', 'isFinite', 'isInf', 'isNaN', 'leakyRelu', 'less', 'lessEqual', 'log', 'log1p', 'logSigmoid',
  'logSoftmax', 'logSumExp', 'logicalAnd', 'logicalNot', 'logicalOr', 'logicalXor', 'matMul', 'max',
  'maximum', 'mean', 'min', 'minimum', 'mirrorPad', 'mod', 'mul', 'neg', 'norm', 'notEqual', 'oneHot',
  'onesLike', 'pad', 'pool', 'pow', 'prelu', 'prod', 'reciprocal', 'relu', 'relu6', 'reshape', 'reverse',
  'rfft', 'round', 'rsqrt', 'selu', 'sigmoid', 'sign', 'sin', 'sinh', 'slice', 'softmax', 'softplus',
  'spaceToBatchND', 'split', 'sqrt', 'square', 'squaredDifference', 'squeeze', 'stack', 'step',
  'stridedSlice', 'sub', 'sum', 'tan', 'tanh', 'tile', 'topk', 'transpose', 'unique', 'unstack', 'where',
  'zerosLike',
] as const;

type Method = (this: tf.Tensor, ...args: unknown[]) => unknown;

function install(): void {
  const proto = (tf.Tensor as unknown as { prototype: Record<string, Method> }).prototype;
  const ops = tf as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of FORWARDED) {
    if (proto[name]) continue;
    proto[name] = function (...args) {
      this.throwIfDisposed();
      return ops[name](this, ...args);
    };
  }
  const casts: Record<string, tf.DataType> = { toFloat: 'float32', toInt: 'int32', toBool: 'bool' };
  for (const [name, dtype] of Object.entries(casts)) {
    proto[name] ??= function () {
      return tf.cast(this, dtype);
    };
  }
  proto.asType ??= function (...args) {
    return tf.cast(this, args[0] as tf.DataType);
  };
  proto.reshapeAs ??= function (...args) {
    return tf.reshape(this, (args[0] as tf.Tensor).shape);
  };
}

install();

export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Scalar, Rank, DataType } from '@tensorflow/tfjs-core';
