/**
 * Element types shared by .npy and .safetensors: sizes, the host dtype each widens to, and the
 * decode/encode of raw little- or big-endian bytes.
 */
import { TensorFileError } from '../errors/index.ts';
import { numel, type HostData, type HostDType, type HostTensor } from './host-tensor.ts';

/** An element type as stored in a file (numpy kind + byte size; 'bf2' is bfloat16). */
export type ElemType = 'f2' | 'bf2' | 'f4' | 'f8' | 'b1' | 'i1' | 'u1' | 'i2' | 'u2' | 'i4' | 'u4' | 'i8';

export const ITEMSIZE: Record<ElemType, number> = {
  f2: 2, bf2: 2, f4: 4, f8: 8, b1: 1, i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8,
};

/** What each file type becomes on the host: narrow types widen to one that holds every value. */
export const HOST_DTYPE: Record<ElemType, HostDType> = {
  f2: 'float32', bf2: 'float32', f4: 'float32', f8: 'float64',
  b1: 'int32', i1: 'int32', u1: 'int32', i2: 'int32', u2: 'int32', i4: 'int32',
  u4: 'int64', i8: 'int64',
};

/** The element type each host dtype is written as. */
export const ELEM_OF: Record<HostDType, ElemType> = { float32: 'f4', float64: 'f8', int32: 'i4', int64: 'i8' };

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the bytes of every `size`-byte element of `buf`, in place. */
function swapBytes(buf: Uint8Array, size: number): void {
  for (let i = 0; i + size <= buf.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = buf[a];
      buf[a] = buf[b];
      buf[b] = t;
    }
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Decodes `src` (exactly the data bytes) into a host array. Copies unless `owned`: file buffers
 * rarely start at an offset aligned for Float64Array etc., and a copy also detaches the result
 * from the (possibly large) file buffer. `owned` says `src` is a buffer of its own (offset 0,
 * read for this tensor alone): the 4- and 8-byte types then wrap it in place, so a file is held
 * once, not twice.
 */
export function decodeElements(src: Uint8Array, elem: ElemType, littleEndian: boolean, owned = false): HostData {
  const n = src.length / ITEMSIZE[elem];
  if (elem === 'f4' || elem === 'f8' || elem === 'i4' || elem === 'i8') {
    // new Uint8Array(src) copies into a fresh ArrayBuffer at offset 0: aligned. (Not src.slice():
    // on a Node Buffer that is a view into the shared pool.)
    const whole = owned && src.byteOffset === 0 && src.byteLength === src.buffer.byteLength && src.buffer instanceof ArrayBuffer;
    const copy = whole ? src : new Uint8Array(src);
    if (littleEndian !== HOST_LITTLE_ENDIAN) swapBytes(copy, ITEMSIZE[elem]);
    const buf = copy.buffer;
    if (elem === 'f4') return new Float32Array(buf);
    if (elem === 'f8') return new Float64Array(buf);
    if (elem === 'i4') return new Int32Array(buf);
    return new BigInt64Array(buf);
  }
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (elem) {
    case 'f2':
      return Float32Array.from({ length: n }, (_, i) => halfToFloat(dv.getUint16(2 * i, littleEndian)));
    case 'bf2': {
      // bfloat16 is the top half of a float32's bits.
      const bits = Uint32Array.from({ length: n }, (_, i) => dv.getUint16(2 * i, littleEndian) << 16);
      return new Float32Array(bits.buffer);
    }
    case 'b1':
      return Int32Array.from(src, (v) => (v !== 0 ? 1 : 0));
    case 'i1':
      return Int32Array.from({ length: n }, (_, i) => dv.getInt8(i));
    case 'u1':
      return Int32Array.from(src);
    case 'i2':
      return Int32Array.from({ length: n }, (_, i) => dv.getInt16(2 * i, littleEndian));
    case 'u2':
      return Int32Array.from({ length: n }, (_, i) => dv.getUint16(2 * i, littleEndian));
    case 'u4':
      return BigInt64Array.from({ length: n }, (_, i) => BigInt(dv.getUint32(4 * i, littleEndian)));
  }
}

/** Little-endian bytes of a host tensor's data (a copy), after checking data and shape agree. */
export function encodeElements(t: HostTensor, label: string): Uint8Array {
  const expectedType = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array }[t.dtype];
  if (!(t.data instanceof expectedType)) {
    throw new TensorFileError(`${label}: dtype ${t.dtype} but data is a ${t.data.constructor.name}`);
  }
  checkShape(t.shape, label);
  if (t.data.length !== numel(t.shape)) {
    throw new TensorFileError(
      `${label}: shape [${t.shape.join(', ')}] needs ${numel(t.shape)} elements, data has ${t.data.length}`,
    );
  }
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  if (!HOST_LITTLE_ENDIAN) swapBytes(bytes, ITEMSIZE[ELEM_OF[t.dtype]]);
  return bytes;
}

/** Throws unless every dimension is a non-negative safe integer. */
export function checkShape(shape: unknown, label: string): asserts shape is number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TensorFileError(`${label}: invalid shape ${JSON.stringify(shape)}`);
  }
}
