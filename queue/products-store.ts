/**
 * A products shard's result in Redis (<ns>:<id>:p:<pass>:<shard>): one float64 array [V, *θ] per
 * parameter, in the session's parameter order, and a small header {pass, shard, offset, count,
 * loss, names, V}. Written NX: a shard delivered twice is stored once (the first result counts).
 * Read back, the header must name exactly the shard asked for and arrays of exactly the expected
 * dtype and length, checked before any array is allocated.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { QueueRecordError } from '../src/errors/queue-errors.ts';
import { MAX_SAMPLES, MAX_SHARDS } from './job-checks.ts';
import { parseRecord } from './record.ts';
import { getArrays, putArrays, type PutOptions } from './tensor-store.ts';

const productsMetaSchema = z.strictObject({
  pass: z.number().int().nonnegative().max(MAX_SHARDS),
  shard: z.number().int().nonnegative().max(MAX_SHARDS),
  offset: z.number().int().nonnegative().max(MAX_SAMPLES),
  count: z.number().int().positive().max(MAX_SAMPLES),
  loss: z.number(),
  V: z.number().int().positive().max(10_000),
  names: z.array(z.string().min(1).max(256)).max(10_000),
});
export type ProductsMeta = z.infer<typeof productsMetaSchema>;

export interface StoredProducts {
  loss: number;
  /** Parameter name → float64 [V·|θ|]. */
  sums: Map<string, Float64Array>;
}

export function storeProducts(redis: Redis, key: string, meta: ProductsMeta, sums: Map<string, Float64Array>, opts: Omit<PutOptions, 'onlyIfAbsent'>): Promise<boolean> {
  return putArrays(redis, key, meta, meta.names.map((n) => sums.get(n)!), { ...opts, onlyIfAbsent: true });
}

/** The shard's sums, checked against what the reader expects (null when not stored). */
export async function readProducts(redis: Redis, key: string, want: Omit<ProductsMeta, 'loss'> & { sizes: number[] }): Promise<StoredProducts | null> {
  const got = await getArrays(redis, key, (raw, arrays) => {
    const meta = parseRecord(productsMetaSchema, raw, `products ${key}`);
    const same = meta.pass === want.pass && meta.shard === want.shard && meta.offset === want.offset && meta.count === want.count && meta.V === want.V
      && meta.names.length === want.names.length && meta.names.every((n, i) => n === want.names[i]);
    if (!same) throw new QueueRecordError(`products ${key}: its header describes another shard or layout`);
    if (arrays.length !== want.names.length || arrays.some((a, i) => a.dtype !== 'float64' || a.length !== want.V * want.sizes[i])) {
      throw new QueueRecordError(`products ${key}: its arrays are not float64 [V, *θ] per parameter`);
    }
    return meta;
  });
  if (!got) return null;
  return { loss: got.meta.loss, sums: new Map(want.names.map((n, i) => [n, got.arrays[i] as Float64Array])) };
}
