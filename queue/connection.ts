/**
 * Where the queue lives: the Redis connection (URL, password, TLS — passed through to ioredis),
 * the BullMQ key prefix and queue name. Every command and test builds one QueueContext from these.
 */
import { readFileSync, statSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { ConnectionOptions as BullConnection } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { UsageError } from '../src/errors/index.ts';
import { RedisUnavailableError } from '../src/errors/queue-errors.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_QUEUE = 'backpack';
export const DEFAULT_PREFIX = 'bp';

export interface TlsSettings {
  /** Paths of PEM files. */
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  /** false accepts any server certificate (testing only). */
  rejectUnauthorized?: boolean;
}

export interface ConnectionSettings {
  /** redis://[user:password@]host:port[/db], or rediss:// for TLS. */
  url: string;
  username?: string;
  password?: string;
  /** TLS options for ioredis; `true` enables TLS with the system CAs. */
  tls?: TlsSettings | true;
  /** BullMQ key prefix: every key of the queue starts with `<prefix>:<queue>:`. */
  prefix: string;
  queue: string;
}

/** The connection options every queue command takes (commander's camel-cased names). */
export interface ConnectionOptions {
  redis?: string; redisUsername?: string; redisPassword?: string; redisPasswordFile?: string; redisTls?: boolean; redisTlsCa?: string;
  redisTlsCert?: string; redisTlsKey?: string; redisTlsServername?: string; redisTlsInsecure?: boolean; queue?: string; prefix?: string;
}

/** The password in a file (--redis-password-file): its first line, without the line break. */
function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--redis-password-file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const password = text.split(/\r?\n/, 1)[0];
  if (!password) throw new UsageError(`--redis-password-file: ${file} is empty (expected the password on its first line)`);
  return password;
}

/**
 * The settings from CLI options, falling back to the environment: REDIS_URL, BACKPACK_REDIS_PASSWORD
 * (or REDIS_PASSWORD), REDIS_USERNAME, BACKPACK_QUEUE, BACKPACK_QUEUE_PREFIX. A password comes from
 * --redis-password-file, else --redis-password, else the environment, else the URL.
 */
export function connectionFromOptions(o: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): ConnectionSettings {
  if (o.redisPasswordFile !== undefined && o.redisPassword !== undefined) throw new UsageError('give the Redis password once: --redis-password-file or --redis-password, not both');
  const tlsFiles = o.redisTlsCa || o.redisTlsCert || o.redisTlsKey || o.redisTlsServername || o.redisTlsInsecure;
  const tls: ConnectionSettings['tls'] = tlsFiles
    ? { ca: o.redisTlsCa, cert: o.redisTlsCert, key: o.redisTlsKey, servername: o.redisTlsServername, rejectUnauthorized: o.redisTlsInsecure ? false : undefined }
    : o.redisTls ? true : undefined;
  const password = o.redisPasswordFile !== undefined ? readPasswordFile(o.redisPasswordFile) : (o.redisPassword ?? env.BACKPACK_REDIS_PASSWORD ?? env.REDIS_PASSWORD);
  return {
    url: o.redis ?? env.REDIS_URL ?? DEFAULT_REDIS_URL,
    username: o.redisUsername ?? env.REDIS_USERNAME,
    password,
    tls,
    queue: o.queue ?? env.BACKPACK_QUEUE ?? DEFAULT_QUEUE,
    prefix: o.prefix ?? env.BACKPACK_QUEUE_PREFIX ?? DEFAULT_PREFIX,
  };
}

/**
 * Warnings about secrets given where other users see them: a command line is visible to every
 * user of the host (`ps`, /proc/PID/cmdline), and a password file others can read is no secret.
 */
export function secretWarnings(o: ConnectionOptions): string[] {
  const out: string[] = [];
  const hint = 'use BACKPACK_REDIS_PASSWORD or --redis-password-file FILE instead';
  if (o.redisPassword !== undefined) out.push(`--redis-password is visible to every user of this host in ps; ${hint}`);
  if (o.redis !== undefined && /^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(o.redis)) out.push(`--redis carries a password, visible to every user of this host in ps; put the URL in REDIS_URL or ${hint}`);
  if (o.redisPasswordFile !== undefined) {
    try {
      if ((statSync(o.redisPasswordFile).mode & 0o077) !== 0) out.push(`--redis-password-file ${o.redisPasswordFile} is readable by other users (chmod 600 it)`);
    } catch (e) {
      out.push(`--redis-password-file ${o.redisPasswordFile}: cannot check its permissions (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return out;
}

function readPem(path: string | undefined, option: string): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`${option}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** ioredis options (also what BullMQ gets): maxRetriesPerRequest null, as BullMQ requires. */
export function redisOptions(s: ConnectionSettings): RedisOptions {
  let url: URL;
  try {
    url = new URL(s.url);
  } catch {
    throw new UsageError(`--redis must be a URL like redis://host:6379 or rediss://host:6380; got '${s.url}'`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new UsageError(`--redis: unsupported scheme '${url.protocol}' (use redis:// or rediss://)`);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new UsageError(`--redis: database '${url.pathname.slice(1)}' is not a non-negative integer`);
  let tls: TlsOptions | undefined;
  if (s.tls || url.protocol === 'rediss:') {
    const t = s.tls === true || !s.tls ? {} : s.tls;
    tls = {
      ca: readPem(t.ca, '--redis-tls-ca'),
      cert: readPem(t.cert, '--redis-tls-cert'),
      key: readPem(t.key, '--redis-tls-key'),
      servername: t.servername,
      rejectUnauthorized: t.rejectUnauthorized,
    };
    for (const k of Object.keys(tls) as (keyof TlsOptions)[]) if (tls[k] === undefined) delete tls[k];
  }
  return {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    db,
    username: s.username ?? (url.username ? decodeURIComponent(url.username) : undefined),
    password: s.password ?? (url.password ? decodeURIComponent(url.password) : undefined),
    tls,
    // NOTE: BullMQ needs null (commands wait through reconnects instead of failing after 20 retries).
    maxRetriesPerRequest: null,
  };
}

/** The same options for BullMQ's Queue, Worker and FlowProducer (each opens its own connections). */
export function bullConnection(s: ConnectionSettings): BullConnection {
  // NOTE: BullMQ declares its own structural RedisOptions; ioredis's (e.g. its retryStrategy) differs in typing only.
  return redisOptions(s) as BullConnection;
}

/** A URL without its password, for messages. */
export function describeUrl(s: ConnectionSettings): string {
  try {
    const u = new URL(s.url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return s.url;
  }
}

/** Opens a client and checks that Redis answers within `timeoutMs`; a typed error says where it looked. */
export async function openRedis(s: ConnectionSettings, timeoutMs = 5000): Promise<Redis> {
  const redis = new Redis({ ...redisOptions(s), lazyConnect: true });
  let lastError = '';
  redis.on('error', (e: Error) => {
    lastError = e.message;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      }),
    ]);
  } catch (e) {
    redis.disconnect();
    const why = lastError || (e as Error).message;
    throw new RedisUnavailableError(`cannot reach Redis at ${describeUrl(s)} (${why}); set --redis or REDIS_URL (and BACKPACK_REDIS_PASSWORD / --redis-password-file / --redis-tls if needed)`);
  } finally {
    clearTimeout(timer);
  }
  return redis;
}
