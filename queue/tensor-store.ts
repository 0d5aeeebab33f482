/**
 * Binary arrays in Redis, never JSON or base64 (STACK.md: JSON turns 1 MB into 2.6 MB, base64 of
 * 128 MB took 5 s). A blob is a list of typed arrays laid end to end (each at an 8-byte aligned
 * offset) as one byte stream, cut into chunk keys of at most 128 MiB (one Redis value is capped at
 * 512 MiB), plus a small JSON header key written LAST: a reader that finds the header finds every
 * chunk. Chunk keys carry a random token, so two writers of the same blob never mix their chunks;
 * with `onlyIfAbsent` the first header wins and the loser deletes its chunks (exactly-once).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { UsageError } from '../src/errors/index.ts';
import { QueueDataError } from '../src/errors/queue-errors.ts';
import { numel, type HostDType, type HostTensor } from '../src/io/host-tensor.ts';

export type StoredDType = HostDType | 'uint8';
export type StoredArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export const MAX_CHUNK_BYTES = 128 * 2 ** 20;
export const DEFAULT_CHUNK_BYTES = 64 * 2 ** 20;

const CTORS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array } as const;

function dtypeOf(a: StoredArray): StoredDType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  return 'uint8';
}

interface ArrayHeader {
  dtype: StoredDType;
  length: number;
  /** Byte offset in the blob's stream (8-byte aligned). */
  offset: number;
}

export interface BlobHeader<M> {
  v: 1;
  token: string;
  chunkBytes: number;
  chunks: number;
  arrays: ArrayHeader[];
  meta: M;
}

export interface PutOptions {
  ttlSeconds: number;
  chunkBytes?: number;
  /** Write the header only if the key does not exist yet (SET NX); returns false when it did. */
  onlyIfAbsent?: boolean;
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;
const bytesOf = (a: StoredArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const chunkKey = (key: string, token: string, i: number) => `${key}:${token}:${i}`;

/** Bytes a blob of these arrays occupies in Redis (data only; headers are small). */
export function blobBytes(arrays: readonly { byteLength: number }[]): number {
  return arrays.reduce((s, a) => s + align8(a.byteLength), 0);
}

export function checkChunkBytes(chunkBytes: number): number {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1024 || chunkBytes > MAX_CHUNK_BYTES) {
    throw new UsageError(`chunk size must be an integer between 1 KiB and 128 MiB, got ${chunkBytes}`);
  }
  return chunkBytes;
}

/** Writes a blob; on any failure removes the chunks it wrote, so nothing is left half-written. */
export async function putArrays<M>(redis: Redis, key: string, meta: M, arrays: readonly StoredArray[], opts: PutOptions): Promise<boolean> {
  const chunkBytes = checkChunkBytes(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const token = randomBytes(6).toString('hex');
  const headers: ArrayHeader[] = [];
  let total = 0;
  for (const a of arrays) {
    headers.push({ dtype: dtypeOf(a), length: a.length, offset: total });
    total += align8(a.byteLength);
  }
  const chunks = Math.max(1, Math.ceil(total / chunkBytes));
  const written: string[] = [];
  try {
    for (let c = 0; c < chunks; c++) {
      const start = c * chunkBytes;
      const end = Math.min(total, start + chunkBytes);
      const k = chunkKey(key, token, c);
      written.push(k);
      await redis.set(k, assemble(arrays, headers, start, end), 'EX', opts.ttlSeconds);
    }
    const header: BlobHeader<M> = { v: 1, token, chunkBytes, chunks, arrays: headers, meta };
    const json = JSON.stringify(header);
    const ok = opts.onlyIfAbsent
      ? await redis.set(key, json, 'EX', opts.ttlSeconds, 'NX')
      : await redis.set(key, json, 'EX', opts.ttlSeconds);
    if (ok === null) {
      await redis.del(...written);
      return false;
    }
    return true;
  } catch (e) {
    if (written.length > 0) await redis.del(...written).catch(() => 0);
    throw e;
  }
}

/** Stream bytes [start, end) as one Buffer: a view when one array covers them, else a copy. */
function assemble(arrays: readonly StoredArray[], headers: ArrayHeader[], start: number, end: number): Buffer {
  const parts: Uint8Array[] = [];
  let pos = start;
  for (let i = 0; i < arrays.length && pos < end; i++) {
    const h = headers[i];
    const padded = align8(arrays[i].byteLength);
    if (h.offset + padded <= pos) continue;
    const bytes = bytesOf(arrays[i]);
    const from = pos - h.offset;
    const to = Math.min(end - h.offset, padded);
    if (from < bytes.length) parts.push(bytes.subarray(from, Math.min(to, bytes.length)));
    if (to > bytes.length) parts.push(new Uint8Array(to - Math.max(from, bytes.length))); // alignment padding
    pos = h.offset + to;
  }
  if (parts.length === 1) return Buffer.from(parts[0].buffer, parts[0].byteOffset, parts[0].byteLength);
  return Buffer.concat(parts);
}

export async function getHeader<M>(redis: Redis, key: string): Promise<BlobHeader<M> | null> {
  const json = await redis.get(key);
  return json === null ? null : (JSON.parse(json) as BlobHeader<M>);
}

async function getChunk(redis: Redis, key: string, h: BlobHeader<unknown>, c: number): Promise<Buffer> {
  const buf = await redis.getBuffer(chunkKey(key, h.token, c));
  if (buf === null) throw new QueueDataError(`${key}: chunk ${c} of ${h.chunks} is missing (expired TTL?)`);
  return buf;
}

/** Reads a whole blob (null when its header is absent), copying chunk by chunk into fresh, aligned arrays. */
export async function getArrays<M>(redis: Redis, key: string): Promise<{ meta: M; arrays: StoredArray[] } | null> {
  const h = await getHeader<M>(redis, key);
  if (!h) return null;
  const arrays = h.arrays.map((a) => new CTORS[a.dtype](a.length) as StoredArray);
  const views = arrays.map(bytesOf);
  for (let c = 0; c < h.chunks; c++) {
    const buf = await getChunk(redis, key, h, c);
    const start = c * h.chunkBytes;
    h.arrays.forEach((a, i) => {
      const from = Math.max(start, a.offset);
      const to = Math.min(start + buf.length, a.offset + views[i].length);
      if (to > from) views[i].set(buf.subarray(from - start, to - start), from - a.offset);
    });
  }
  return { meta: h.meta, arrays };
}

/** Bytes [from, to) of array `index` of a blob, fetched with GETRANGE from the chunks that hold them. */
export async function getArrayBytes(redis: Redis, key: string, h: BlobHeader<unknown>, index: number, from: number, to: number): Promise<Uint8Array> {
  const out = new Uint8Array(to - from);
  const a = h.arrays[index];
  for (let pos = a.offset + from; pos < a.offset + to;) {
    const c = Math.floor(pos / h.chunkBytes);
    const end = Math.min(a.offset + to, (c + 1) * h.chunkBytes);
    const part = await redis.getrangeBuffer(chunkKey(key, h.token, c), pos - c * h.chunkBytes, end - c * h.chunkBytes - 1);
    if (part.length !== end - pos) throw new QueueDataError(`${key}: chunk ${c} is missing or short (expired TTL?)`);
    out.set(part, pos - a.offset - from);
    pos = end;
  }
  return out;
}

/** Deletes a blob's header and chunks. */
export async function deleteBlob(redis: Redis, key: string): Promise<void> {
  const h = await getHeader(redis, key);
  if (!h) return;
  await redis.del(key, ...Array.from({ length: h.chunks }, (_, c) => chunkKey(key, h.token, c)));
}

// ---- tensors -------------------------------------------------------------------------------

interface TensorMeta {
  tensors: { name: string; dtype: HostDType; shape: number[] }[];
}

export const tensorBytes = (t: HostTensor) => t.data.byteLength;

/** Stores named tensors as one blob (a single tensor is a map with one entry). */
export function putTensors(redis: Redis, key: string, tensors: Map<string, HostTensor>, opts: PutOptions): Promise<boolean> {
  const meta: TensorMeta = { tensors: [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })) };
  return putArrays(redis, key, meta, [...tensors.values()].map((t) => t.data), opts);
}

export async function getTensors(redis: Redis, key: string): Promise<Map<string, HostTensor>> {
  const blob = await getArrays<TensorMeta>(redis, key);
  if (!blob) throw new QueueDataError(`${key}: uploaded tensor is missing (expired TTL or the job was cancelled)`);
  return new Map(blob.meta.tensors.map((t, i) => [t.name, { dtype: t.dtype, shape: t.shape, data: blob.arrays[i] as HostTensor['data'] }]));
}

/** Shape and dtype of the first tensor of a blob, without its data. */
export async function tensorInfo(redis: Redis, key: string): Promise<{ dtype: HostDType; shape: number[] }> {
  const h = await getHeader<TensorMeta>(redis, key);
  if (!h) throw new QueueDataError(`${key}: uploaded tensor is missing (expired TTL or the job was cancelled)`);
  return h.meta.tensors[0];
}

/** Rows [start, start + count) of the first tensor of a blob: only the chunks that hold them are read. */
export async function getTensorRows(redis: Redis, key: string, start: number, count: number): Promise<HostTensor> {
  const h = await getHeader<TensorMeta>(redis, key);
  if (!h) throw new QueueDataError(`${key}: uploaded tensor is missing (expired TTL or the job was cancelled)`);
  const { dtype, shape } = h.meta.tensors[0];
  const Ctor = CTORS[dtype];
  const rowBytes = numel(shape.slice(1)) * Ctor.BYTES_PER_ELEMENT;
  const bytes = await getArrayBytes(redis, key, h, 0, start * rowBytes, (start + count) * rowBytes);
  const data = new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / Ctor.BYTES_PER_ELEMENT) as HostTensor['data'];
  return { dtype, shape: [count, ...shape.slice(1)], data };
}
