/**
 * .npy arrays as streamed rows: the header is read and checked on its own, then a batch's rows
 * (C order: each row is contiguous) are fetched by positional reads and decoded by parseNpy, via
 * a small .npy wrapped around just those rows, so dtypes and byte order follow io/npy.ts exactly.
 * Fortran-order arrays have no contiguous rows; they are read whole into memory.
 */
import { TensorFileError } from '../../errors/index.ts';
import { numel, toFloat64, type HostTensor } from '../../io/host-tensor.ts';
import { parseNpy } from '../../io/npy.ts';
import { withBytes, type Bytes, type BytesOpener } from './bytes.ts';
import { memoryRows, type RowSource } from './rows.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

const STORED: Record<string, string> = {
  b1: 'bool', i1: 'int8', u1: 'uint8', i2: 'int16', u2: 'uint16', i4: 'int32', u4: 'uint32', i8: 'int64',
  f2: 'float16', f4: 'float32', f8: 'float64',
};

/** Where an array lies in a source: the .npy starts at `base` and spans `limit` bytes. */
export interface NpyLayout {
  base: number;
  limit: number;
  descr: string;
  itemsize: number;
  fortran: boolean;
  shape: number[];
  /** Data start, relative to `base`. */
  dataOffset: number;
}

/** A .npy (version 1.0) of `shape` around raw C-order `data`, for parseNpy. */
export function wrapNpy(descr: string, shape: readonly number[], data: Uint8Array): Uint8Array {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const header = dict.padEnd(Math.ceil((dict.length + 11) / 64) * 64 - 11, ' ') + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, 10 + header.length);
  return out;
}

/** One value of the header dict, by key: numpy writes 'descr', 'fortran_order', 'shape' in this form. */
function field(text: string, key: string, value: string): string | undefined {
  return new RegExp(`['"]${key}['"]\\s*:\\s*${value}`).exec(text)?.[1];
}

export async function readNpyLayout(bytes: Bytes, base: number, limit: number, label: string): Promise<NpyLayout> {
  const prefix = await bytes.read(base, Math.min(limit, 12));
  if (prefix.length < 10 || MAGIC.some((b, i) => prefix[i] !== b)) throw new TensorFileError(`${label}: not a .npy file (bad magic)`);
  const [major, minor] = [prefix[6], prefix[7]];
  if (major < 1 || major > 3 || minor !== 0) throw new TensorFileError(`${label}: unsupported .npy format version ${major}.${minor}`);
  if (major > 1 && prefix.length < 12) throw new TensorFileError(`${label}: truncated .npy header`);
  const dv = new DataView(prefix.buffer);
  const headerStart = major === 1 ? 10 : 12;
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const dataOffset = headerStart + headerLen;
  if (dataOffset > limit) {
    throw new TensorFileError(`${label}: truncated: header says ${headerLen} bytes of header, file has ${limit - headerStart}`);
  }
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(await bytes.read(base + headerStart, headerLen));
  const descr = field(text, 'descr', `['"]([^'"]+)['"]`);
  const fortran = field(text, 'fortran_order', '(True|False)');
  const dims = field(text, 'shape', '\\(([^)]*)\\)');
  const shape = dims?.split(',').map((d) => d.trim()).filter((d) => d !== '').map((d) => Number(d.replace(/L$/, '')));
  if (descr === undefined || fortran === undefined || !shape || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new TensorFileError(`${label}: malformed .npy header: ${text.trim()}`);
  }
  if (shape.length === 0) throw new TensorFileError(`${label}: a 0-d array has no rows; a dataset array needs shape [N, …]`);
  // parseNpy on an empty array of this dtype rejects unsupported dtypes with its own message.
  parseNpy(wrapNpy(descr, [0], new Uint8Array()), label);
  const itemsize = Number(/\d+$/.exec(descr)![0]);
  const want = numel(shape) * itemsize;
  const have = limit - dataOffset;
  if (have !== want) {
    throw new TensorFileError(`${label}: ${have < want ? 'truncated' : 'size mismatch'}: header says ${want} bytes of data, file has ${have}`);
  }
  return { base, limit, descr, itemsize, fortran: fortran === 'True', shape, dataOffset };
}

const asFloat32 = (t: HostTensor): Float32Array => (t.data instanceof Float32Array ? t.data : Float32Array.from(toFloat64(t)));

/** The array's rows, streamed (C order) or, for Fortran order, read whole and held in memory. */
export async function npyRows(open: BytesOpener, layout: NpyLayout, label: string): Promise<RowSource> {
  const { base, descr, itemsize, shape, dataOffset } = layout;
  const [N, ...row] = shape;
  if (layout.fortran && shape.length > 1) return memoryRows(asFloat32(await readNpy(open, layout, label)), row, label);
  const rowBytes = numel(row) * itemsize;
  return {
    rowShape: row,
    rowBytes,
    stored: STORED[descr.replace(/^[<>|=]/, '')] ?? descr,
    segments: [{ open, offset: base + dataOffset, stride: rowBytes, skip: 0, rows: N }],
    decode: (bytes, count) => asFloat32(parseNpy(wrapNpy(descr, [count, ...row], bytes), `${label}: rows`)),
  };
}

/** The whole array, in memory (targets; Fortran-order inputs). */
export function readNpy(open: BytesOpener, layout: NpyLayout, label: string): Promise<HostTensor> {
  return withBytes(open, async (bytes) => parseNpy(await bytes.read(layout.base, layout.limit), label));
}
