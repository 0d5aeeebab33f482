/**
 * NumPy .npy reader/writer (format versions 1.0, 2.0, 3.0).
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *
 * Also home of the element decode/encode helpers shared with safetensors.ts.
 */
import { TensorFileError } from '../errors/index.ts';
import { numel, type HostData, type HostDType, type HostTensor } from './host-tensor.ts';

// ---------------------------------------------------------------------------------------------
// Element types shared by .npy and .safetensors
// ---------------------------------------------------------------------------------------------

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
 * Decodes `src` (exactly the data bytes) into a fresh host array. Always copies: file buffers
 * rarely start at an offset aligned for Float64Array etc., and a copy also detaches the
 * result from the (possibly large) file buffer.
 */
export function decodeElements(src: Uint8Array, elem: ElemType, littleEndian: boolean): HostData {
  const n = src.length / ITEMSIZE[elem];
  if (elem === 'f4' || elem === 'f8' || elem === 'i4' || elem === 'i8') {
    // new Uint8Array(src) copies into a fresh ArrayBuffer at offset 0: aligned. (Not src.slice():
    // on a Node Buffer that is a view into the shared pool.)
    const copy = new Uint8Array(src);
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

// ---------------------------------------------------------------------------------------------
// .npy header: a Python dict literal such as {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
// ---------------------------------------------------------------------------------------------

type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Parses the small subset of Python literal syntax numpy writes; throws a plain Error otherwise. */
function parsePyLiteral(src: string): PyValue {
  let i = 0;
  const ws = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${i}`);
  };
  const value = (): PyValue => {
    ws();
    const c = src[i];
    if (c === '{') {
      i++;
      const obj: { [key: string]: PyValue } = {};
      for (;;) {
        ws();
        if (src[i] === '}') break;
        const key = value();
        if (typeof key !== 'string') fail('dict key is not a string');
        ws();
        if (src[i++] !== ':') fail("expected ':'");
        obj[key as string] = value();
        ws();
        if (src[i] === ',') i++;
        else if (src[i] !== '}') fail("expected ',' or '}'");
      }
      i++;
      return obj;
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      for (;;) {
        ws();
        if (src[i] === close) break;
        items.push(value());
        ws();
        if (src[i] === ',') i++;
        else if (src[i] !== close) fail(`expected ',' or '${close}'`);
      }
      i++;
      return items;
    }
    if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = src.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    // Integers, with the 'L' suffix that Python 2 numpy wrote for longs.
    const num = /^-?\d+L?/.exec(src.slice(i));
    if (num) {
      i += num[0].length;
      return Number(num[0].replace('L', ''));
    }
    for (const [word, v] of [['True', true], ['False', false], ['None', null]] as const) {
      if (src.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    return fail(`unexpected ${c === undefined ? 'end of header' : `'${c}'`}`);
  };
  const v = value();
  ws();
  if (i !== src.length) fail('trailing characters');
  return v;
}

/** Maps a numpy descr such as '<f8' to an element type and byte order. */
function parseDescr(descr: PyValue, label: string): { elem: ElemType; littleEndian: boolean } {
  if (typeof descr !== 'string') {
    throw new TensorFileError(`${label}: unsupported dtype ${JSON.stringify(descr)} (structured arrays are not supported)`);
  }
  const m = /^([<>|=]?)([a-z])(\d+)$/.exec(descr);
  const code = m ? `${m[2]}${m[3]}` : '';
  const elem = (['f2', 'f4', 'f8', 'b1', 'i1', 'u1', 'i2', 'u2', 'i4', 'u4', 'i8'] as const).find((e) => e === code);
  if (!m || !elem) {
    throw new TensorFileError(
      `${label}: unsupported dtype '${descr}' (supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 b1, either byte order)`,
    );
  }
  // '=' is native order; '|' only appears on 1-byte types where order does not matter.
  const littleEndian = m[1] === '>' ? false : m[1] === '<' ? true : HOST_LITTLE_ENDIAN;
  return { elem, littleEndian };
}

/** Reorders column-major (Fortran) data into row-major (C) order for the same shape. */
function fortranToC<T extends HostData>(src: T, shape: readonly number[]): T {
  const k = shape.length;
  if (k < 2 || src.length === 0) return src;
  const fStride: number[] = [];
  for (let j = 0, s = 1; j < k; j++) {
    fStride.push(s);
    s *= shape[j];
  }
  const out = src.slice() as T; // same type and length; every slot is overwritten
  const o = out as unknown as { [i: number]: number | bigint };
  const s = src as unknown as { [i: number]: number | bigint };
  const idx = new Array<number>(k).fill(0);
  let f = 0;
  // Walk C order (last axis fastest), tracking the Fortran offset of the same index.
  for (let c = 0; c < src.length; c++) {
    o[c] = s[f];
    for (let j = k - 1; j >= 0; j--) {
      idx[j]++;
      f += fStride[j];
      if (idx[j] < shape[j]) break;
      f -= fStride[j] * shape[j];
      idx[j] = 0;
    }
  }
  return out;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

export function parseNpy(bytes: Uint8Array, label: string): HostTensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new TensorFileError(`${label}: not a .npy file (bad magic)`);
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3 || minor !== 0) {
    throw new TensorFileError(`${label}: unsupported .npy format version ${major}.${minor}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // v1 has a u16 header length; v2/v3 a u32 (for huge structured dtypes).
  const lenSize = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenSize) throw new TensorFileError(`${label}: truncated .npy header`);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const headerStart = 8 + lenSize;
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) {
    throw new TensorFileError(
      `${label}: truncated: header says ${headerLen} bytes of header, file has ${bytes.length - headerStart}`,
    );
  }
  // v3 allows UTF-8 in the header (field names); v1/v2 are latin1.
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  let header: PyValue;
  try {
    header = parsePyLiteral(headerText);
  } catch (e) {
    throw new TensorFileError(`${label}: malformed .npy header: ${(e as Error).message}: ${headerText.trim()}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new TensorFileError(`${label}: malformed .npy header: not a dict: ${headerText.trim()}`);
  }
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!(key in header)) throw new TensorFileError(`${label}: malformed .npy header: missing '${key}'`);
  }
  const { elem, littleEndian } = parseDescr(header.descr, label);
  const fortran = header.fortran_order;
  if (typeof fortran !== 'boolean') {
    throw new TensorFileError(`${label}: malformed .npy header: fortran_order is ${JSON.stringify(fortran)}`);
  }
  const shape = header.shape;
  checkShape(shape, label);

  const want = numel(shape) * ITEMSIZE[elem];
  const have = bytes.length - dataStart;
  if (have < want) {
    throw new TensorFileError(`${label}: truncated: header says ${want} bytes of data, file has ${have}`);
  }
  if (have > want) {
    throw new TensorFileError(`${label}: size mismatch: header says ${want} bytes of data, file has ${have}`);
  }
  let data = decodeElements(bytes.subarray(dataStart), elem, littleEndian);
  if (fortran) data = fortranToC(data, shape);
  return { dtype: HOST_DTYPE[elem], shape: [...shape], data };
}

/** Encodes as .npy (version 1.0, or 2.0 if the header would not fit), little-endian, C order. */
export function encodeNpy(t: HostTensor): Uint8Array {
  const data = encodeElements(t, 'encodeNpy');
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  const dict = `{'descr': '<${ELEM_OF[t.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  // numpy pads the header with spaces and a final '\n' so the data starts 64-byte aligned.
  let major = 1;
  let prefix = 10;
  if (prefix + dict.length + 1 > 0xffff) {
    major = 2;
    prefix = 12;
  }
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - prefix - 1, ' ') + '\n';

  const out = new Uint8Array(total + data.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i); // ASCII only
  out.set(data, total);
  return out;
}
