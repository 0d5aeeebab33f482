/**
 * NumPy .npy reader/writer (format versions 1.0, 2.0, 3.0).
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *
 * The header is parsed on its own (parseNpyHeader), so a file reader can check the declared size
 * against the file before it allocates anything; parseNpy does the same for bytes in memory.
 */
import { TensorFileError } from '../errors/index.ts';
import { checkShape, decodeElements, ELEM_OF, encodeElements, HOST_DTYPE, HOST_LITTLE_ENDIAN, ITEMSIZE, type ElemType } from './elements.ts';
import { numel, type HostData, type HostTensor } from './host-tensor.ts';
import { parsePyLiteral, type PyValue } from './py-literal.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Magic, version and header length: what must be read before the header itself. */
export const NPY_PREAMBLE_BYTES = 12;

/**
 * Header length limit. numpy's own reader refuses headers over 10000 bytes unless told otherwise;
 * the dtypes read here need < 200, so anything near this is a corrupt or hostile length field.
 */
export const MAX_NPY_HEADER = 1 << 20;

/** The keys numpy writes, and the only ones it reads back (numpy refuses others too). */
const HEADER_KEYS = ['descr', 'fortran_order', 'shape'];

export interface NpyHeader {
  elem: ElemType;
  littleEndian: boolean;
  fortran: boolean;
  shape: number[];
  /** Offset of the first data byte, and the data size the shape declares. */
  dataStart: number;
  dataBytes: number;
}

/** Reads the preamble (≥ 10 bytes of the file): where the header lies. */
export function npyHeaderSpan(prefix: Uint8Array, fileSize: number, label: string): { major: number; headerStart: number; dataStart: number } {
  if (prefix.length < 10 || MAGIC.some((b, i) => prefix[i] !== b)) {
    throw new TensorFileError(`${label}: not a .npy file (bad magic)`);
  }
  const major = prefix[6];
  const minor = prefix[7];
  if (major < 1 || major > 3 || minor !== 0) {
    throw new TensorFileError(`${label}: unsupported .npy format version ${major}.${minor}`);
  }
  const dv = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  // v1 has a u16 header length; v2/v3 a u32 (for huge structured dtypes).
  const headerStart = major === 1 ? 10 : 12;
  if (prefix.length < headerStart) throw new TensorFileError(`${label}: truncated .npy header`);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  if (headerLen > MAX_NPY_HEADER) {
    throw new TensorFileError(`${label}: header length ${headerLen} is implausibly large (limit ${MAX_NPY_HEADER})`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > fileSize) {
    throw new TensorFileError(
      `${label}: truncated: header says ${headerLen} bytes of header, file has ${fileSize - headerStart}`,
    );
  }
  return { major, headerStart, dataStart };
}

/**
 * Parses the header of a .npy whose first bytes are `bytes` (at least up to the data) and checks
 * the size the shape declares against `fileSize`, before any data is touched.
 */
export function parseNpyHeader(bytes: Uint8Array, fileSize: number, label: string): NpyHeader {
  const { major, headerStart, dataStart } = npyHeaderSpan(bytes, fileSize, label);
  if (bytes.length < dataStart) throw new TensorFileError(`${label}: truncated .npy header`);
  // v3 allows UTF-8 in the header (field names); v1/v2 are latin1.
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const shown = headerText.trim().slice(0, 200);
  let header: PyValue;
  try {
    header = parsePyLiteral(headerText);
  } catch (e) {
    throw new TensorFileError(`${label}: malformed .npy header: ${(e as Error).message}: ${shown}`);
  }
  if (!(header instanceof Map)) throw new TensorFileError(`${label}: malformed .npy header: not a dict: ${shown}`);
  for (const key of HEADER_KEYS) {
    if (!header.has(key)) throw new TensorFileError(`${label}: malformed .npy header: missing '${key}'`);
  }
  const extra = [...header.keys()].filter((k) => !HEADER_KEYS.includes(k));
  if (extra.length) {
    throw new TensorFileError(`${label}: malformed .npy header: unexpected key ${extra.map((k) => `'${k}'`).join(', ')} (a .npy header has exactly 'descr', 'fortran_order', 'shape')`);
  }
  const { elem, littleEndian } = parseDescr(header.get('descr')!, label);
  const fortran = header.get('fortran_order');
  if (typeof fortran !== 'boolean') {
    throw new TensorFileError(`${label}: malformed .npy header: fortran_order is ${JSON.stringify(fortran)}`);
  }
  const shape = header.get('shape');
  checkShape(shape, label);
  const dataBytes = numel(shape) * ITEMSIZE[elem];
  const have = fileSize - dataStart;
  if (have < dataBytes) {
    throw new TensorFileError(`${label}: truncated: header says ${dataBytes} bytes of data, file has ${have}`);
  }
  if (have > dataBytes) {
    throw new TensorFileError(`${label}: size mismatch: header says ${dataBytes} bytes of data, file has ${have}`);
  }
  return { elem, littleEndian, fortran, shape: [...shape], dataStart, dataBytes };
}

/** The tensor from exactly its data bytes; `owned` as in decodeElements (no copy of a fresh buffer). */
export function npyTensor(h: NpyHeader, data: Uint8Array, owned = false): HostTensor {
  let values: HostData = decodeElements(data, h.elem, h.littleEndian, owned);
  if (h.fortran) values = fortranToC(values, h.shape);
  return { dtype: HOST_DTYPE[h.elem], shape: [...h.shape], data: values };
}

/** A whole .npy in memory. */
export function parseNpy(bytes: Uint8Array, label: string): HostTensor {
  const h = parseNpyHeader(bytes, bytes.length, label);
  return npyTensor(h, bytes.subarray(h.dataStart));
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
