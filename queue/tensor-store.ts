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
import { z } from 'zod';
import { UsageError } from '../src/errors/index.ts';
import { QueueDataError, QueueRecordError } from '../src/errors/queue-errors.ts';
import { numel, type HostDType, type HostTensor } from '../src/io/host-tensor.ts';
import { recordBlobKeys } from './job-data.ts';
import { MAX_CHUNK_BYTES } from './limits.ts';
import { parseJsonRecord, parseRecord } from './record.ts';

export type StoredDType = HostDType | 'uint8';
export type StoredArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export const DEFAULT_CHUNK_BYTES = 64 * 2 ** 20;
/** Largest array in a blob (elements): typed arrays and Int32 sample indices stop there. */
export const MAX_ARRAY_LENGTH = 2 ** 31 - 1;
const MAX_ARRAYS = 100_000;

const CTORS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array } as const;
const STORED_DTYPES = ['float32', 'float64', 'int32', 'int64', 'uint8'] as const;

function dtypeOf(a: StoredArray): StoredDType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  return 'uint8';
}

const arrayHeaderSchema = z.strictObject({
  dtype: z.enum(STORED_DTYPES),
  length: z.number().int().nonnegative().max(MAX_ARRAY_LENGTH),
  /** Byte offset in the blob's stream (8-byte aligned). */
  offset: z.number().int().nonnegative(),
});
type ArrayHeader = z.infer<typeof arrayHeaderSchema>;

/** A blob header as read back: checked field by field, then for a layout that adds up (checkLayout). */
const blobHeaderSchema = z.strictObject({
  v: z.literal(1),
  token: z.string().regex(/^[0-9a-f]{12}$/),
  chunkBytes: z.number().int().min(1024).max(MAX_CHUNK_BYTES),
  chunks: z.number().int().positive(),
  arrays: z.array(arrayHeaderSchema).max(MAX_ARRAYS),
  meta: z.unknown(),
});

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
  /** The job's `blobs` set: every key is recorded there before it is written (job-data.ts). */
  registry?: string;
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
  const keys = Array.from({ length: chunks }, (_, c) => chunkKey(key, token, c));
  if (opts.registry) await recordBlobKeys(redis, opts.registry, [key, ...keys], opts.ttlSeconds);
  const written: string[] = [];
  try {
    for (let c = 0; c < chunks; c++) {
      const start = c * chunkBytes;
      const end = Math.min(total, start + chunkBytes);
      written.push(keys[c]);
      await redis.set(keys[c], assemble(arrays, headers, start, end), 'EX', opts.ttlSeconds);
    }
    const header: BlobHeader<M> = { v: 1, token, chunkBytes, chunks, arrays: headers, meta };
    const json = JSON.stringify(header);
    const ok = opts.onlyIfAbsent
      ? await redis.set(key, json, 'EX', opts.ttlSeconds, 'NX')
      : await redis.set(key, json, 'EX', opts.ttlSeconds);
    if (ok === null) {
      await redis.del(...written);
      if (opts.registry) await redis.srem(opts.registry, ...written);
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

/** The header checked for a layout that adds up: arrays laid end to end, 8-byte aligned, in `chunks` chunks. */
function checkLayout(h: BlobHeader<unknown>, key: string): number {
  let total = 0;
  for (const [i, a] of h.arrays.entries()) {
    if (a.offset !== total) throw new QueueRecordError(`blob ${key}: array ${i} starts at byte ${a.offset}, expected ${total}`);
    total += align8(a.length * CTORS[a.dtype].BYTES_PER_ELEMENT);
  }
  const chunks = Math.max(1, Math.ceil(total / h.chunkBytes));
  if (h.chunks !== chunks) throw new QueueRecordError(`blob ${key}: header says ${h.chunks} chunks, its arrays fill ${chunks}`);
  return total;
}

/** A blob's header, checked (QueueRecordError when malformed); null when the key does not exist. */
export async function getHeader(redis: Redis, key: string): Promise<BlobHeader<unknown> | null> {
  const json = await redis.get(key);
  if (json === null) return null;
  const h = parseRecord(blobHeaderSchema, parseJsonRecord(json, `blob header ${key}`), `blob header ${key}`) as BlobHeader<unknown>;
  checkLayout(h, key);
  return h;
}

/** The header with its meta checked by `parseMeta` (which sees the arrays, to check them against the meta). */
export async function getCheckedHeader<M>(redis: Redis, key: string, parseMeta: (meta: unknown, arrays: readonly ArrayHeader[]) => M): Promise<BlobHeader<M> | null> {
  const h = await getHeader(redis, key);
  return h === null ? null : { ...h, meta: parseMeta(h.meta, h.arrays) };
}

/** Bytes chunk `c` must hold: every chunk is full except the last. */
function chunkLength(h: BlobHeader<unknown>, c: number): number {
  const last = h.arrays.at(-1);
  const total = last ? last.offset + align8(last.length * CTORS[last.dtype].BYTES_PER_ELEMENT) : 0;
  return Math.min(h.chunkBytes, total - c * h.chunkBytes);
}

async function getChunk(redis: Redis, key: string, h: BlobHeader<unknown>, c: number): Promise<Buffer> {
  const buf = await redis.getBuffer(chunkKey(key, h.token, c));
  if (buf === null) throw new QueueDataError(`${key}: chunk ${c} of ${h.chunks} is missing (expired TTL?)`);
  const want = chunkLength(h, c);
  if (buf.length !== Math.max(0, want)) throw new QueueRecordError(`${key}: chunk ${c} holds ${buf.length} bytes, its header says ${want}`);
  return buf;
}

/** Reads a whole blob whose header was checked, copying chunk by chunk into fresh, aligned arrays. */
export async function readArrays<M>(redis: Redis, key: string, h: BlobHeader<M>): Promise<{ meta: M; arrays: StoredArray[] }> {
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

/** Reads a whole blob, its meta checked by `parseMeta` before any array is allocated (null when absent). */
export async function getArrays<M>(redis: Redis, key: string, parseMeta: (meta: unknown, arrays: readonly ArrayHeader[]) => M): Promise<{ meta: M; arrays: StoredArray[] } | null> {
  const h = await getCheckedHeader(redis, key, parseMeta);
  return h === null ? null : readArrays(redis, key, h);
}

/** Bytes [from, to) of array `index` of a blob, fetched with GETRANGE from the chunks that hold them. */
export async function getArrayBytes(redis: Redis, key: string, h: BlobHeader<unknown>, index: number, from: number, to: number): Promise<Uint8Array> {
  const out = new Uint8Array(to - from);
  const a = h.arrays[index];
  for (let pos = a.offset + from; pos < a.offset + to;) {
    const c = Math.floor(pos / h.chunkBytes);
    const end = Math.min(a.offset + to, (c + 1) * h.chunkBytes);
    const ck = chunkKey(key, h.token, c);
    const part = await redis.getrangeBuffer(ck, pos - c * h.chunkBytes, end - c * h.chunkBytes - 1);
    if (part.length !== end - pos) {
      const have = await redis.strlen(ck);
      if (have === 0) throw new QueueDataError(`${key}: chunk ${c} of ${h.chunks} is missing (expired TTL?)`);
      throw new QueueRecordError(`${key}: chunk ${c} holds ${have} bytes, its header says ${chunkLength(h, c)}`);
    }
    out.set(part, pos - a.offset - from);
    pos = end;
  }
  return out;
}

/** Deletes a blob's header and chunks (by the token and count its header names). */
export async function deleteBlob(redis: Redis, key: string): Promise<void> {
  const h = await getHeader(redis, key);
  if (!h) return;
  await redis.del(key, ...Array.from({ length: h.chunks }, (_, c) => chunkKey(key, h.token, c)));
}

// ---- tensors -------------------------------------------------------------------------------

const MAX_DIMS = 8;
const tensorMetaSchema = z.strictObject({
  tensors: z.array(z.strictObject({
    name: z.string().min(1).max(200),
    dtype: z.enum(['float32', 'float64', 'int32', 'int64']),
    shape: z.array(z.number().int().nonnegative().max(MAX_ARRAY_LENGTH)).max(MAX_DIMS),
  })).min(1).max(10_000),
});
type TensorMeta = z.infer<typeof tensorMetaSchema>;

/** Tensor meta checked against the arrays: one array per tensor, of its dtype and element count. */
function parseTensorMeta(key: string) {
  return (raw: unknown, arrays: readonly ArrayHeader[]): TensorMeta => {
    const meta = parseRecord(tensorMetaSchema, raw, `tensor header ${key}`);
    if (meta.tensors.length !== arrays.length) throw new QueueRecordError(`tensor header ${key}: ${meta.tensors.length} tensors but ${arrays.length} arrays`);
    meta.tensors.forEach((t, i) => {
      if (arrays[i].dtype !== t.dtype || arrays[i].length !== numel(t.shape)) {
        throw new QueueRecordError(`tensor header ${key}: tensor ${i} is ${t.dtype} [${t.shape.join(', ')}] but its array holds ${arrays[i].length} ${arrays[i].dtype}`);
      }
    });
    return meta;
  };
}

export const tensorBytes = (t: HostTensor) => t.data.byteLength;

/** Stores named tensors as one blob (a single tensor is a map with one entry). */
export function putTensors(redis: Redis, key: string, tensors: Map<string, HostTensor>, opts: PutOptions): Promise<boolean> {
  const meta: TensorMeta = { tensors: [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })) };
  return putArrays(redis, key, meta, [...tensors.values()].map((t) => t.data), opts);
}

const missingTensor = (key: string) => new QueueDataError(`${key}: uploaded tensor is missing (expired TTL or the job was cancelled)`);

export async function getTensors(redis: Redis, key: string): Promise<Map<string, HostTensor>> {
  const blob = await getArrays(redis, key, parseTensorMeta(key));
  if (!blob) throw missingTensor(key);
  return new Map(blob.meta.tensors.map((t, i) => [t.name, { dtype: t.dtype, shape: t.shape, data: blob.arrays[i] as HostTensor['data'] }]));
}

/** Shape and dtype of the single tensor of a blob (a per-sample tensor: inputs, targets), without its data. */
export async function tensorInfo(redis: Redis, key: string): Promise<{ dtype: HostDType; shape: number[] }> {
  const h = await getCheckedHeader(redis, key, parseTensorMeta(key));
  if (!h) throw missingTensor(key);
  if (h.meta.tensors.length !== 1) throw new QueueRecordError(`tensor header ${key}: ${h.meta.tensors.length} tensors where one per-sample tensor belongs`);
  const { dtype, shape } = h.meta.tensors[0];
  if (shape.length === 0) throw new QueueRecordError(`tensor header ${key}: a per-sample tensor needs a sample dimension, got a scalar`);
  return { dtype, shape };
}

/** Rows [start, start + count) of the single tensor of a blob: only the chunks that hold them are read. */
export async function getTensorRows(redis: Redis, key: string, start: number, count: number): Promise<HostTensor> {
  const h = await getCheckedHeader(redis, key, parseTensorMeta(key));
  if (!h) throw missingTensor(key);
  const { dtype, shape } = h.meta.tensors[0];
  if (h.meta.tensors.length !== 1 || shape.length === 0) throw new QueueRecordError(`tensor header ${key}: not one per-sample tensor`);
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > shape[0]) {
    throw new QueueRecordError(`${key}: rows [${start}, ${start + count}) are outside its ${shape[0]} rows`);
  }
  const Ctor = CTORS[dtype];
  const rowBytes = numel(shape.slice(1)) * Ctor.BYTES_PER_ELEMENT;
  const bytes = await getArrayBytes(redis, key, h, 0, start * rowBytes, (start + count) * rowBytes);
  const data = new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / Ctor.BYTES_PER_ELEMENT) as HostTensor['data'];
  return { dtype, shape: [count, ...shape.slice(1)], data };
}
