/**
 * safetensors reader/writer. Layout: u64 LE header length N, N bytes of JSON header
 * ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}), then the
 * data buffer; offsets are relative to the start of the buffer. https://github.com/huggingface/safetensors
 * The header is parsed on its own (parseSafetensorsHeader), so a file reader checks every offset
 * against the file before it allocates anything.
 */
import { TensorFileError } from '../errors/index.ts';
import { numel, type HostTensor } from './host-tensor.ts';
import { checkShape, decodeElements, encodeElements, HOST_DTYPE, ITEMSIZE, type ElemType } from './elements.ts';
import { firstDuplicateKey } from './json-keys.ts';

/** safetensors dtype names we read, and the element type each is stored as. */
const ELEM_OF_ST: Record<string, ElemType> = {
  F16: 'f2', BF16: 'bf2', F32: 'f4', F64: 'f8',
  BOOL: 'b1', I8: 'i1', U8: 'u1', I16: 'i2', U16: 'u2', I32: 'i4', U32: 'u4', I64: 'i8',
};

/** The safetensors dtype each host dtype is written as (every writer uses this one table). */
export const ST_OF_HOST = { float32: 'F32', float64: 'F64', int32: 'I32', int64: 'I64' } as const;

/** Header length limit: anything larger is a corrupt length field, not a real header. */
const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsContents {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/** One tensor of a header: where its bytes lie, relative to the start of the data buffer. */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  elem: ElemType;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** In header order. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** File offset of the data buffer (8 + header length). */
  dataStart: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The header length from the first 8 bytes, checked against the file size. */
export function safetensorsHeaderLength(first: Uint8Array, fileSize: number, label: string): number {
  if (fileSize < 8 || first.length < 8) {
    throw new TensorFileError(`${label}: truncated: ${fileSize} bytes, too short for the 8-byte header length`);
  }
  const headerLen64 = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (headerLen64 > BigInt(fileSize - 8)) {
    throw new TensorFileError(`${label}: header length ${headerLen64} exceeds the file (${fileSize - 8} bytes after the length field)`);
  }
  if (headerLen64 > BigInt(MAX_HEADER)) {
    throw new TensorFileError(`${label}: header length ${headerLen64} is implausibly large (limit ${MAX_HEADER})`);
  }
  return Number(headerLen64);
}

/** One entry's dtype, shape and offsets, each checked on its own. */
function parseEntry(name: string, entry: unknown, bufLen: number, label: string): SafetensorsEntry {
  const where = `${label}: tensor '${name}'`;
  if (!isObject(entry)) throw new TensorFileError(`${where}: header entry is not an object`);
  const extra = Object.keys(entry).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
  if (extra.length) throw new TensorFileError(`${where}: unexpected field ${extra.map((k) => JSON.stringify(k)).join(', ')} (an entry has dtype, shape, data_offsets)`);
  const { dtype, shape, data_offsets: offsets } = entry;
  const elem = typeof dtype === 'string' && Object.hasOwn(ELEM_OF_ST, dtype) ? ELEM_OF_ST[dtype] : undefined;
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
    throw new TensorFileError(`${where}: data_offsets [${begin}, ${end}] out of range: data buffer has ${bufLen} bytes`);
  }
  const want = numel(shape) * ITEMSIZE[elem];
  if (end - begin !== want) {
    throw new TensorFileError(
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${want}`,
    );
  }
  return { name, dtype: dtype as string, elem, shape: [...shape], begin, end };
}

/**
 * The entries must tile the data buffer exactly, as the format requires (and huggingface's reader
 * checks): no two share a byte, no byte belongs to none, nothing follows the last. Otherwise one
 * file could hold hidden data, or two names alias the same weights.
 */
function checkTiling(entries: SafetensorsEntry[], bufLen: number, label: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: SafetensorsEntry | undefined;
  for (const e of sorted) {
    if (e.begin < at) {
      throw new TensorFileError(`${label}: tensor '${e.name}' data_offsets [${e.begin}, ${e.end}] overlap those of '${prev!.name}' [${prev!.begin}, ${prev!.end}]`);
    }
    if (e.begin > at) throw new TensorFileError(`${label}: bytes [${at}, ${e.begin}) of the data buffer belong to no tensor (a gap before '${e.name}')`);
    at = e.end;
    prev = e;
  }
  if (at !== bufLen) throw new TensorFileError(`${label}: ${bufLen - at} trailing bytes after the last tensor's data (data buffer has ${bufLen}, tensors cover ${at})`);
}

/** Parses and checks a header (the JSON bytes after the length field) against the file size. */
export function parseSafetensorsHeader(json: Uint8Array, fileSize: number, label: string): SafetensorsHeader {
  const dataStart = 8 + json.length;
  let text: string;
  let header: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
    header = JSON.parse(text);
  } catch (e) {
    throw new TensorFileError(`${label}: header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(header)) throw new TensorFileError(`${label}: header is not a JSON object`);
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== undefined) throw new TensorFileError(`${label}: header names ${JSON.stringify(duplicate)} twice`);
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  const bufLen = fileSize - dataStart;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObject(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw new TensorFileError(`${label}: __metadata__ must map strings to strings`);
      }
      // fromEntries defines own properties: a '__proto__' key stays a key.
      metadata = Object.fromEntries(Object.entries(entry)) as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(name, entry, bufLen, label));
  }
  checkTiling(entries, bufLen, label);
  return { entries, metadata, dataStart };
}

/** A whole .safetensors in memory. */
export function parseSafetensors(bytes: Uint8Array, label: string): SafetensorsContents {
  const headerLen = safetensorsHeaderLength(bytes, bytes.length, label);
  const { entries, metadata, dataStart } = parseSafetensorsHeader(bytes.subarray(8, 8 + headerLen), bytes.length, label);
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    const data = decodeElements(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.elem, true);
    tensors.set(e.name, { dtype: HOST_DTYPE[e.elem], shape: e.shape, data });
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
