/**
 * safetensors reader/writer. Layout: u64 LE header length N, N bytes of JSON header
 * ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}), then the
 * data buffer; offsets are relative to the start of the buffer. https://github.com/huggingface/safetensors
 */
import { TensorFileError } from '../errors/index.ts';
import { numel, type HostTensor } from './host-tensor.ts';
import { checkShape, decodeElements, encodeElements, HOST_DTYPE, ITEMSIZE, type ElemType } from './npy.ts';

/** safetensors dtype names we read, and the element type each is stored as. */
const ELEM_OF_ST: Record<string, ElemType> = {
  F16: 'f2', BF16: 'bf2', F32: 'f4', F64: 'f8',
  BOOL: 'b1', I8: 'i1', U8: 'u1', I16: 'i2', U16: 'u2', I32: 'i4', U32: 'u4', I64: 'i8',
};

const ST_OF_HOST = { float32: 'F32', float64: 'F64', int32: 'I32', int64: 'I64' } as const;

/** Header length limit: anything larger is a corrupt length field, not a real header. */
const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsContents {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseSafetensors(bytes: Uint8Array, label: string): SafetensorsContents {
  if (bytes.length < 8) {
    throw new TensorFileError(`${label}: truncated: ${bytes.length} bytes, too short for the 8-byte header length`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = dv.getBigUint64(0, true);
  if (headerLen64 > BigInt(bytes.length - 8)) {
    throw new TensorFileError(
      `${label}: header length ${headerLen64} exceeds the file (${bytes.length - 8} bytes after the length field)`,
    );
  }
  if (headerLen64 > BigInt(MAX_HEADER)) {
    throw new TensorFileError(`${label}: header length ${headerLen64} is implausibly large (limit ${MAX_HEADER})`);
  }
  const dataStart = 8 + Number(headerLen64);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (e) {
    throw new TensorFileError(`${label}: header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(header)) throw new TensorFileError(`${label}: header is not a JSON object`);

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, HostTensor>();
  const bufLen = bytes.length - dataStart;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObject(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw new TensorFileError(`${label}: __metadata__ must map strings to strings`);
      }
      Object.assign(metadata, entry);
      continue;
    }
    const where = `${label}: tensor '${name}'`;
    if (!isObject(entry)) throw new TensorFileError(`${where}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    const elem = typeof dtype === 'string' ? ELEM_OF_ST[dtype] : undefined;
    if (!elem) {
      throw new TensorFileError(
        `${where}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ELEM_OF_ST).join(', ')})`,
      );
    }
    checkShape(shape, where);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new TensorFileError(`${where}: invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > bufLen) {
      throw new TensorFileError(
        `${where}: data_offsets [${begin}, ${end}] out of range: data buffer has ${bufLen} bytes`,
      );
    }
    const want = numel(shape) * ITEMSIZE[elem];
    if (end - begin !== want) {
      throw new TensorFileError(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, ` +
          `but shape [${shape.join(', ')}] of ${dtype} needs ${want}`,
      );
    }
    const data = decodeElements(bytes.subarray(dataStart + begin, dataStart + end), elem, true);
    tensors.set(name, { dtype: HOST_DTYPE[elem], shape: [...shape], data });
  }
  return { tensors, metadata };
}

/**
 * Encodes tensors (in the given order) as safetensors, writing F32/F64/I32/I64 as the host dtype
 * says. The header is space-padded so the data buffer starts 8-byte aligned, as the format asks.
 */
export function encodeSafetensors(
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TensorFileError(`encodeSafetensors: metadata '${k}' is not a string`);
    }
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new TensorFileError(`encodeSafetensors: '__metadata__' is reserved`);
    const data = encodeElements(t, `encodeSafetensors: tensor '${name}'`);
    header[name] = { dtype: ST_OF_HOST[t.dtype], shape: t.shape, data_offsets: [offset, offset + data.length] };
    chunks.push(data);
    offset += data.length;
  }
  // Note: JSON.parse on read returns integer-like keys ("0", "1") first; such names lose their order.
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen); // space padding
  let at = 8 + headerLen;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
