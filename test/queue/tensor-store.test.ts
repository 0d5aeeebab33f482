/**
 * Binary blobs in a real Redis: arrays of every dtype (odd lengths, so 8-byte alignment padding is
 * exercised) across many small chunks, row ranges that cross chunk boundaries, first-writer-wins
 * (NX) for partials, and chunk-size limits.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { UsageError } from '../../src/errors/index.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { MAX_CHUNK_BYTES } from '../../queue/limits.ts';
import { deleteBlob, getArrays, getTensorRows, getTensors, putArrays, putTensors } from '../../queue/tensor-store.ts';
import { countKeys, purge, testSettings } from './helpers.ts';

const settings = testSettings();
let redis: Redis;
const key = (name: string) => `${settings.prefix}:q:bp:test:${name}`;

beforeAll(() => {
  redis = new Redis(settings.url, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  redis?.disconnect();
  await purge(settings);
});

it('arrays of every dtype round-trip through many chunks, bit for bit', async () => {
  const arrays = [
    Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 1e-3),
    Float64Array.from({ length: 333 }, (_, i) => 1 / (i + 1)),
    Int32Array.from({ length: 7 }, (_, i) => -i),
    BigInt64Array.from({ length: 5 }, (_, i) => BigInt(i) * 2n ** 40n),
    new Uint8Array([1, 2, 3]),
    new Float32Array(0),
  ];
  expect(await putArrays(redis, key('all'), { hello: 'meta' }, arrays, { ttlSeconds: 60, chunkBytes: 1024 })).toBe(true);
  const back = await getArrays(redis, key('all'), (m) => m as { hello: string });
  expect(back?.meta).toEqual({ hello: 'meta' });
  back!.arrays.forEach((a, i) => {
    expect(a.constructor).toBe(arrays[i].constructor);
    expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(arrays[i].buffer, arrays[i].byteOffset, arrays[i].byteLength))).toBe(true);
  });
  const keys = await countKeys(settings, `${key('all')}*`);
  expect(keys.length).toBeGreaterThan(7); // header + ≥ 7 chunks of 1 KiB
  for (const k of keys) expect(await redis.ttl(k)).toBeGreaterThan(0);
  await deleteBlob(redis, key('all'));
  expect(await countKeys(settings, `${key('all')}*`)).toEqual([]);
  expect(await getArrays(redis, key('all'), (m) => m)).toBeNull();
});

it('rows of a tensor are read from the chunks that hold them (ranges across chunk boundaries)', async () => {
  const t: HostTensor = { dtype: 'float32', shape: [50, 3, 7], data: Float32Array.from({ length: 50 * 21 }, (_, i) => i) };
  const labels: HostTensor = { dtype: 'int64', shape: [50], data: BigInt64Array.from({ length: 50 }, (_, i) => BigInt(i % 10)) };
  await putTensors(redis, key('x'), new Map([['x', t]]), { ttlSeconds: 60, chunkBytes: 1024 });
  await putTensors(redis, key('y'), new Map([['y', labels]]), { ttlSeconds: 60, chunkBytes: 1024 });
  for (const [start, count] of [[0, 50], [3, 17], [12, 1], [49, 1], [24, 13]]) {
    const rows = await getTensorRows(redis, key('x'), start, count);
    expect(rows.shape).toEqual([count, 3, 7]);
    expect(Array.from(rows.data as Float32Array)).toEqual(Array.from((t.data as Float32Array).subarray(start * 21, (start + count) * 21)));
    const ys = await getTensorRows(redis, key('y'), start, count);
    expect(Array.from(ys.data as BigInt64Array)).toEqual(Array.from((labels.data as BigInt64Array).subarray(start, start + count)));
  }
  const map = await getTensors(redis, key('x'));
  expect(map.get('x')?.shape).toEqual([50, 3, 7]);
});

it('onlyIfAbsent: the first writer wins and the second leaves no chunk behind', async () => {
  const first = [Float64Array.of(1, 2, 3)];
  const second = [Float64Array.of(4, 5, 6)];
  expect(await putArrays(redis, key('nx'), 'first', first, { ttlSeconds: 60, onlyIfAbsent: true })).toBe(true);
  expect(await putArrays(redis, key('nx'), 'second', second, { ttlSeconds: 60, onlyIfAbsent: true })).toBe(false);
  const back = await getArrays(redis, key('nx'), (m) => m as string);
  expect(back?.meta).toBe('first');
  expect(Array.from(back!.arrays[0] as Float64Array)).toEqual([1, 2, 3]);
  expect((await countKeys(settings, `${key('nx')}*`)).length).toBe(2); // header + one chunk
});

it('chunks are at most 128 MiB', async () => {
  await expect(putArrays(redis, key('big'), null, [new Uint8Array(4)], { ttlSeconds: 60, chunkBytes: MAX_CHUNK_BYTES + 1 })).rejects.toThrow(UsageError);
});
