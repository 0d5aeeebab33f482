/**
 * .npy arrays as streamed rows: the header is read and checked on its own, then a batch's rows
 * (C order: each row is contiguous) are fetched by positional reads and decoded by parseNpy, via
 * a small .npy wrapped around just those rows, so dtypes and byte order follow io/npy.ts exactly.
 * Fortran-order arrays have no contiguous rows; they are read whole into memory.
 */
import { TensorFileError } from '../../errors/index.ts';
import { numel, toFloat64, type HostTensor } from '../../io/host-tensor.ts';
import { ITEMSIZE } from '../../io/elements.ts';
import { NPY_PREAMBLE_BYTES, npyHeaderSpan, parseNpy, parseNpyHeader } from '../../io/npy.ts';
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

export async function readNpyLayout(bytes: Bytes, base: number, limit: number, label: string): Promise<NpyLayout> {
  // The same header parser (and size check) as io/npy.ts, on the header bytes alone.
  const prefix = await bytes.read(base, Math.min(limit, NPY_PREAMBLE_BYTES));
  const { dataStart } = npyHeaderSpan(prefix, limit, label);
  const h = parseNpyHeader(await bytes.read(base, dataStart), limit, label);
  if (h.shape.length === 0) throw new TensorFileError(`${label}: a 0-d array has no rows; a dataset array needs shape [N, …]`);
  const descr = `${ITEMSIZE[h.elem] === 1 ? '|' : h.littleEndian ? '<' : '>'}${h.elem}`;
  return { base, limit, descr, itemsize: ITEMSIZE[h.elem], fortran: h.fortran, shape: h.shape, dataOffset: h.dataStart };
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
