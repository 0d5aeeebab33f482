/**
 * The one place that imports tfjs-core. tfjs-core's package entry (what Node resolves) does not
 * install the chained tensor methods (x.reshape(...), x.sum(...)); its ESM files that would cannot
 * be imported by Node. We install them here, each forwarding to the op of the same name exactly as
 * tfjs-core's own chained_ops files do; their types come from chained-ops.d.ts.
 */
import * as tf from '@tensorflow/tfjs-core';

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

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Scalar, Rank, DataType } from '@tensorflow/tfjs-core';
