/**
 * Reading records back from Redis. Anyone who can write to Redis can write them, so each is
 * checked against a schema before use, and a failed check is a QueueRecordError that names the
 * record and the first few problems (JSON paths and zod's words), never the record's raw bytes.
 */
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { QueueRecordError } from '../src/errors/queue-errors.ts';

/** Largest JSON record read from Redis (a descriptor with an inline model and a long shard plan). */
export const MAX_RECORD_BYTES = 32 * 2 ** 20;

const clip = (s: string, n = 120) => (s.length > n ? `${s.slice(0, n)}…` : s);

export function describeIssues(error: z.ZodError, max = 3): string {
  return error.issues
    .slice(0, max)
    .map((issue) => {
      const p = issue.path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${clip(String(s), 40)}`)).join('').replace(/^\./, '');
      return `${p || '(root)'}: ${clip(issue.message)}`;
    })
    .join('; ');
}

/** `raw` checked against `schema`; QueueRecordError naming `what` otherwise. */
export function parseRecord<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new QueueRecordError(`${what} is malformed: ${describeIssues(r.error)}`);
  return r.data;
}

/** JSON text → value; QueueRecordError (without quoting the text) when it does not parse. */
export function parseJsonRecord(text: string, what: string): unknown {
  if (text.length > MAX_RECORD_BYTES) throw new QueueRecordError(`${what} is ${text.length} bytes, over the ${MAX_RECORD_BYTES}-byte limit for a record`);
  try {
    return JSON.parse(text);
  } catch {
    throw new QueueRecordError(`${what} is not valid JSON`);
  }
}

/**
 * A JSON key read and checked; undefined when the key does not exist (a record holding JSON null
 * is a record, checked like any other). Its size is checked before it is read.
 */
export async function readJsonRecord<S extends z.ZodType>(redis: Redis, key: string, schema: S, what: string): Promise<z.infer<S> | undefined> {
  const len = await redis.strlen(key);
  if (len > MAX_RECORD_BYTES) throw new QueueRecordError(`${what} is ${len} bytes, over the ${MAX_RECORD_BYTES}-byte limit for a record`);
  const text = await redis.get(key);
  return text === null ? undefined : parseRecord(schema, parseJsonRecord(text, what), what);
}
