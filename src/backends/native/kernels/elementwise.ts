/**
 * Elementwise kernels: unary ops (one device call over contiguous data), binary ops with numpy
 * broadcasting (strides of 0), select, cast and the like. Op codes are native/src/kernels/params.h's.
 */
import type { DataType, KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { MUL_STEP } from '../../../core/ops/kernel-names.ts';
import { NativeBackend } from '../backend.ts';
import { params } from '../params.ts';
import { broadcastShape, broadcastStrides, kernel, sizeOf } from './util.ts';

const UNARY = {
  Abs: 0, Neg: 1, Exp: 2, Log: 3, Log1p: 4, Sqrt: 5, Rsqrt: 6, Square: 7, Sigmoid: 8, Tanh: 9, Relu: 10, Relu6: 11,
  LeakyRelu: 12, Elu: 13, Selu: 14, Softplus: 15, Step: 16, Reciprocal: 17, Sign: 18, Floor: 19, Ceil: 20, Round: 21,
  Sin: 22, Cos: 23, Expm1: 24, Erf: 25, IsNan: 26, IsInf: 27, IsFinite: 28, LogicalNot: 29, ClipByValue: 30,
} as const;

const BINARY = {
  Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, Pow: 6, SquaredDifference: 7, FloorDiv: 8, Mod: 9,
  Atan2: 10, DivNoNan: 11, Greater: 12, GreaterEqual: 13, Less: 14, LessEqual: 15, Equal: 16, NotEqual: 17,
  LogicalAnd: 18, LogicalOr: 19, LogicalXor: 20, MulStep: 21,
} as const;

const PREDICATES = new Set(['IsNan', 'IsInf', 'IsFinite', 'LogicalNot']);
/** Ops with an int32 implementation; every other unary op computes in float32. */
const INT_UNARY = new Set(['Abs', 'Neg', 'Square', 'Sign']);
const COMPARISONS = new Set(['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'LogicalXor']);

export function castTo(backend: NativeBackend, x: TensorInfo, dtype: DataType): TensorInfo {
  if (x.dtype === dtype) return backend.alias(x, x.shape);
  const y = backend.makeOutput(x.shape, dtype);
  backend.addon.cast(params.begin().push(NativeBackend.dtypeCode(x.dtype), NativeBackend.dtypeCode(dtype), backend.handle(x), backend.handle(y), sizeOf(x.shape)).block);
  return y;
}

/**
 * A unary op. As tfjs's cpu backend: the result keeps the input's dtype (an int32 relu is int32),
 * except predicates (bool) and Exp (float32); ops without an integer form compute in float32 and
 * convert back.
 */
export function unary(backend: NativeBackend, name: keyof typeof UNARY, x: TensorInfo, a = 0, b = 0): TensorInfo {
  const predicate = PREDICATES.has(name);
  const asInt = x.dtype === 'int32' && INT_UNARY.has(name);
  const input = predicate || asInt || x.dtype === 'float32' ? x : castTo(backend, x, 'float32');
  const computed: DataType = predicate ? 'bool' : asInt ? 'int32' : 'float32';
  const y = backend.makeOutput(x.shape, computed);
  backend.addon.unary(
    params.begin().push(UNARY[name], NativeBackend.dtypeCode(input.dtype), NativeBackend.dtypeCode(computed), backend.handle(input), backend.handle(y), sizeOf(x.shape), a, b).block,
  );
  if (input !== x) backend.disposeData(input.dataId);
  // Exp and LeakyRelu are float32 in tfjs's cpu backend whatever the input.
  const wanted: DataType = predicate ? 'bool' : name === 'Exp' || name === 'LeakyRelu' ? 'float32' : x.dtype;
  return convertResult(backend, y, wanted);
}

/** Casts a fresh result to `dtype` (freeing it) when it was computed in another type. */
function convertResult(backend: NativeBackend, y: TensorInfo, dtype: DataType): TensorInfo {
  if (y.dtype === dtype) return y;
  const out = castTo(backend, y, dtype);
  backend.disposeData(y.dataId);
  return out;
}

export function binary(backend: NativeBackend, name: keyof typeof BINARY, a: TensorInfo, b: TensorInfo): TensorInfo {
  const shape = broadcastShape(a.shape, b.shape);
  // tfjs's ops make both dtypes match before the kernel; RealDiv and Atan2 compute in float32
  // (an int32 Atan2 is converted back, as tfjs keeps the inputs' dtype).
  const float = name === 'RealDiv' || name === 'Atan2';
  const dtype: DataType = float ? 'float32' : a.dtype;
  const A = a.dtype === dtype ? a : castTo(backend, a, dtype);
  const B = b.dtype === dtype ? b : castTo(backend, b, dtype);
  const outType: DataType = COMPARISONS.has(name) ? 'bool' : dtype;
  const y = backend.makeOutput(shape, outType);
  if (sizeOf(shape) > 0) {
    backend.addon.binary(
      params
        .begin()
        .push(BINARY[name], NativeBackend.dtypeCode(dtype), NativeBackend.dtypeCode(outType), backend.handle(A), backend.handle(B), backend.handle(y))
        .space(shape, broadcastStrides(A.shape, shape), broadcastStrides(B.shape, shape)).block,
    );
  }
  if (A !== a) backend.disposeData(A.dataId);
  if (B !== b) backend.disposeData(B.dataId);
  // Atan2 keeps the inputs' dtype, as tfjs. NOTE: a float32 FloorDiv stays float32 (as tfjs-wasm and
  // TensorFlow; tfjs's cpu backend returns int32 there, turning NaN and ±Inf into 0).
  if (name === 'Atan2') return convertResult(backend, y, a.dtype);
  return y;
}

export function select(backend: NativeBackend, condition: TensorInfo, t: TensorInfo, e: TensorInfo): TensorInfo {
  const shape = broadcastShape(broadcastShape(condition.shape, t.shape), e.shape);
  const y = backend.makeOutput(shape, t.dtype);
  if (sizeOf(shape) > 0) {
    backend.addon.select(
      params
        .begin()
        .push(NativeBackend.dtypeCode(t.dtype), backend.handle(condition), backend.handle(t), backend.handle(e), backend.handle(y))
        .space(shape, broadcastStrides(condition.shape, shape), broadcastStrides(t.shape, shape), broadcastStrides(e.shape, shape)).block,
    );
  }
  return y;
}

const unaryKernels: KernelConfig[] = (Object.keys(UNARY) as (keyof typeof UNARY)[]).map((name) =>
  kernel(name, ({ inputs, backend, attrs }) => {
    const x = inputs.x;
    if (name === 'LeakyRelu') return unary(backend, name, x, attrs.alpha as number);
    if (name === 'Step') return unary(backend, name, x, (attrs.alpha as number) ?? 0);
    if (name === 'ClipByValue') return unary(backend, name, x, attrs.clipValueMin as number, attrs.clipValueMax as number);
    return unary(backend, name, x);
  }),
);

const binaryKernels: KernelConfig[] = (Object.keys(BINARY) as (keyof typeof BINARY)[])
  .filter((name) => name !== 'MulStep')
  .map((name) => kernel(name, ({ inputs, backend }) => binary(backend, name, inputs.a, inputs.b)));

export const elementwiseKernels: KernelConfig[] = [
  ...unaryKernels,
  ...binaryKernels,
  kernel('Cast', ({ inputs, backend, attrs }) => castTo(backend, inputs.x, attrs.dtype as DataType)),
  kernel('AddN', ({ inputs, backend }) => {
    const list = Object.values(inputs);
    let acc = backend.alias(list[0], list[0].shape);
    for (const t of list.slice(1)) {
      const next = binary(backend, 'Add', acc, t);
      backend.disposeData(acc.dataId);
      acc = next;
    }
    return acc;
  }),
  kernel('Select', ({ inputs, backend }) => select(backend, inputs.condition, inputs.t, inputs.e)),
  kernel(MUL_STEP, ({ inputs, backend }) => binary(backend, 'MulStep', inputs.V, inputs.x)),
  kernel('Prelu', ({ inputs, backend }) => {
    // x < 0 ? α·x : x, as a select (so an infinite or NaN α never touches x ≥ 0).
    const { x, alpha } = inputs;
    const zero = backend.makeOutput([], x.dtype);
    backend.fill(zero, 0);
    const negative = binary(backend, 'Less', x, zero);
    const scaled = binary(backend, 'Multiply', x, alpha);
    const y = select(backend, negative, scaled, x);
    for (const t of [zero, negative, scaled]) backend.disposeData(t.dataId);
    return y;
  }),
];
