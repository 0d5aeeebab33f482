/**
 * .safetensors with an inputs and a targets tensor. The JSON header is read on its own; input
 * rows (C order, contiguous) stream by positional reads and are decoded by parseSafetensors via
 * a one-tensor file wrapped around just those rows, so dtypes follow io/safetensors.ts exactly.
 * Targets are read whole.
 */
import { TensorFileError } from '../../errors/index.ts';
import { numel, toFloat64, type HostTensor } from '../../io/host-tensor.ts';
import { parseSafetensors } from '../../io/safetensors.ts';
import { pickKey, type ArrayKeys } from './arrays.ts';
import { fileBytes, withBytes, type Bytes } from './bytes.ts';
import type { RowSource } from './rows.ts';
import { targetsFromTensor, type TargetOptions, type Targets } from './targets.ts';

const ITEMSIZE: Record<string, number> = { F16: 2, BF16: 2, F32: 4, F64: 8, BOOL: 1, I8: 1, U8: 1, I16: 2, U16: 2, I32: 4, U32: 4, I64: 8 };
const STORED: Record<string, string> = {
  F16: 'float16', BF16: 'bfloat16', F32: 'float32', F64: 'float64', BOOL: 'bool',
  I8: 'int8', U8: 'uint8', I16: 'int16', U16: 'uint16', I32: 'int32', U32: 'uint32', I64: 'int64',
};
/** Header length limit, as in io/safetensors.ts: anything larger is a corrupt length field. */
const MAX_HEADER = 100 * 1024 * 1024;

interface Entry {
  dtype: string;
  shape: number[];
  /** Absolute file offsets of the tensor's bytes. */
  begin: number;
  end: number;
}

/** A safetensors file holding one tensor 't' of `shape` around raw `data`, for parseSafetensors. */
function wrap(dtype: string, shape: readonly number[], data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify({ t: { dtype, shape, data_offsets: [0, data.length] } }));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const decodeAs = (dtype: string, shape: readonly number[], data: Uint8Array, label: string): HostTensor =>
  parseSafetensors(wrap(dtype, shape, data), label).tensors.get('t')!;

async function readHeader(bytes: Bytes, path: string): Promise<{ header: Record<string, unknown>; dataStart: number }> {
  if (bytes.size < 8) throw new TensorFileError(`${path}: truncated: ${bytes.size} bytes, too short for the 8-byte header length`);
  const len = new DataView((await bytes.read(0, 8)).buffer).getBigUint64(0, true);
  if (len > BigInt(bytes.size - 8)) throw new TensorFileError(`${path}: header length ${len} exceeds the file (${bytes.size - 8} bytes after the length field)`);
  if (len > BigInt(MAX_HEADER)) throw new TensorFileError(`${path}: header length ${len} is implausibly large (limit ${MAX_HEADER})`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await bytes.read(8, Number(len))));
  } catch (e) {
    throw new TensorFileError(`${path}: header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new TensorFileError(`${path}: header is not a JSON object`);
  return { header: header as Record<string, unknown>, dataStart: 8 + Number(len) };
}

function entryOf(header: Record<string, unknown>, key: string, dataStart: number, size: number, path: string): Entry {
  const where = `${path}: tensor '${key}'`;
  const { dtype, shape, data_offsets: offsets } = (header[key] ?? {}) as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in ITEMSIZE)) {
    throw new TensorFileError(`${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ITEMSIZE).join(', ')})`);
  }
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TensorFileError(`${where}: a dataset tensor needs shape [N, …], got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
    throw new TensorFileError(`${where}: invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = [dataStart + offsets[0], dataStart + offsets[1]];
  if (end > size) throw new TensorFileError(`${where}: truncated: data_offsets [${offsets[0]}, ${offsets[1]}] run past the end of the data buffer (${size - dataStart} bytes)`);
  const want = numel(shape) * ITEMSIZE[dtype];
  if (end - begin !== want) {
    throw new TensorFileError(`${where}: data_offsets [${offsets[0]}, ${offsets[1]}] span ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${want}`);
  }
  return { dtype, shape, begin, end };
}

export async function openSafetensors(path: string, keys: ArrayKeys, opts: TargetOptions): Promise<{ inputs: RowSource; targets: Targets }> {
  const open = fileBytes(path);
  return withBytes(open, async (bytes) => {
    const { header, dataStart } = await readHeader(bytes, path);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const x = entryOf(header, pickKey(names, keys, 'inputs', path), dataStart, bytes.size, path);
    const tkey = pickKey(names, keys, 'targets', path);
    const y = entryOf(header, tkey, dataStart, bytes.size, path);
    const [N, ...row] = x.shape;
    const rowBytes = numel(row) * ITEMSIZE[x.dtype];
    const label = `${path}: rows`;
    const inputs: RowSource = {
      rowShape: row,
      rowBytes,
      stored: STORED[x.dtype],
      segments: [{ open, offset: x.begin, stride: rowBytes, skip: 0, rows: N }],
      decode: (b, count) => {
        const t = decodeAs(x.dtype, [count, ...row], b, label);
        return t.data instanceof Float32Array ? t.data : Float32Array.from(toFloat64(t));
      },
    };
    const tlabel = `${path}: tensor '${tkey}'`;
    const t = decodeAs(y.dtype, y.shape, await bytes.read(y.begin, y.end - y.begin), tlabel);
    return { inputs, targets: targetsFromTensor(t, tlabel, opts) };
  });
}
