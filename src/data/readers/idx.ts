/**
 * IDX files (MNIST, Fashion-MNIST, EMNIST): magic 00 00 <type> <ndim>, then ndim big-endian u32
 * dimensions, then the data, big-endian, C order. http://yann.lecun.com/exdb/mnist/
 * Images stream by row (positional reads; .gz ones from memory, see gzip.ts); labels are read whole.
 */
import { basename, dirname, join } from 'node:path';
import { TensorFileError, UsageError } from '../../errors/index.ts';
import { numel } from '../../io/host-tensor.ts';
import { withBytes, type Bytes } from './bytes.ts';
import { sourceBytes } from './gzip.ts';
import type { RowSource } from './rows.ts';
import { classTargets, type TargetOptions, type Targets } from './targets.ts';

interface IdxType {
  name: string;
  size: number;
  get: (dv: DataView, at: number) => number;
}

const TYPES: Record<number, IdxType> = {
  0x08: { name: 'uint8', size: 1, get: (dv, at) => dv.getUint8(at) },
  0x09: { name: 'int8', size: 1, get: (dv, at) => dv.getInt8(at) },
  0x0b: { name: 'int16', size: 2, get: (dv, at) => dv.getInt16(at, false) },
  0x0c: { name: 'int32', size: 4, get: (dv, at) => dv.getInt32(at, false) },
  0x0d: { name: 'float32', size: 4, get: (dv, at) => dv.getFloat32(at, false) },
  0x0e: { name: 'float64', size: 8, get: (dv, at) => dv.getFloat64(at, false) },
};

interface IdxHeader {
  type: IdxType;
  dims: number[];
  dataOffset: number;
}

const hex = (b: Uint8Array) => Array.from(b, (v) => v.toString(16).padStart(2, '0')).join(' ');

async function readHeader(bytes: Bytes, path: string): Promise<IdxHeader> {
  if (bytes.size < 4) throw new TensorFileError(`${path}: truncated: ${bytes.size} bytes, too short for the IDX magic`);
  const magic = await bytes.read(0, 4);
  const type = TYPES[magic[2]];
  if (magic[0] !== 0 || magic[1] !== 0 || !type || magic[3] === 0) {
    throw new TensorFileError(`${path}: bad IDX magic ${hex(magic)} (expected 00 00, a type code 08/09/0b/0c/0d/0e, and a dimension count ≥ 1)`);
  }
  const ndim = magic[3];
  const dataOffset = 4 + 4 * ndim;
  if (bytes.size < dataOffset) throw new TensorFileError(`${path}: truncated: the header needs ${dataOffset} bytes, file has ${bytes.size}`);
  const dv = new DataView((await bytes.read(4, 4 * ndim)).buffer);
  const dims = Array.from({ length: ndim }, (_, i) => dv.getUint32(4 * i, false));
  const want = dataOffset + numel(dims) * type.size;
  if (bytes.size !== want) {
    const what = bytes.size < want ? 'truncated' : 'size mismatch';
    throw new TensorFileError(`${path}: ${what}: header says [${dims.join(', ')}] of ${type.name}, ${want} bytes in all; file has ${bytes.size}`);
  }
  return { type, dims, dataOffset };
}

/** The labels file that goes with an images file, by MNIST's naming (train-images-idx3-ubyte → train-labels-idx1-ubyte). */
export function labelsPathFor(images: string): string {
  const name = basename(images).replace(/images([-.])idx3/, 'labels$1idx1');
  if (name === basename(images)) {
    throw new UsageError(`labels: cannot derive the labels file from '${images}' (expected a name like train-images-idx3-ubyte); pass labels`);
  }
  return join(dirname(images), name);
}

export async function openIdx(images: string, labels: string, opts: TargetOptions): Promise<{ inputs: RowSource; targets: Targets }> {
  const imgOpen = await sourceBytes(images);
  const img = await withBytes(imgOpen, (b) => readHeader(b, images));
  if (img.dims.length < 2) throw new TensorFileError(`${images}: an images file needs ≥ 2 dimensions [N, …], header says [${img.dims.join(', ')}]`);
  const lab = await withBytes(await sourceBytes(labels), async (b) => {
    const h = await readHeader(b, labels);
    return { h, data: await b.read(h.dataOffset, b.size - h.dataOffset) };
  });
  if (lab.h.dims.length !== 1 || !['uint8', 'int8', 'int16', 'int32'].includes(lab.h.type.name)) {
    throw new TensorFileError(`${labels}: a labels file holds integers [N], header says [${lab.h.dims.join(', ')}] of ${lab.h.type.name}`);
  }
  const [N, ...row] = img.dims;
  if (lab.h.dims[0] !== N) throw new TensorFileError(`${labels}: ${lab.h.dims[0]} labels, but ${images} has ${N} images`);
  const ldv = new DataView(lab.data.buffer);
  const values = Float64Array.from({ length: N }, (_, n) => lab.h.type.get(ldv, n * lab.h.type.size));

  const { type } = img;
  const per = numel(row);
  const inputs: RowSource = {
    // Single-channel images [H, W] become [1, H, W] (CHW, as conv layers want).
    rowShape: row.length === 2 ? [1, ...row] : row,
    rowBytes: per * type.size,
    stored: type.name,
    segments: [{ open: imgOpen, offset: img.dataOffset, stride: per * type.size, skip: 0, rows: N }],
    decode: (bytes, count) => {
      if (type.name === 'uint8') return Float32Array.from(bytes);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return Float32Array.from({ length: count * per }, (_, i) => type.get(dv, i * type.size));
    },
  };
  return { inputs, targets: classTargets(values, labels, opts.classes) };
}
