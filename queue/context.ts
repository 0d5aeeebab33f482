/**
 * One open queue: a Redis client for our binary keys, and BullMQ's Queue / FlowProducer (each with
 * its own connection, created on first use). close() closes all of them, so a command or a test
 * leaves no open handle behind.
 */
import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullConnection, openRedis, type ConnectionSettings } from './connection.ts';
import { escapeGlob, QueueKeys } from './keys.ts';

export class QueueContext {
  readonly keys: QueueKeys;
  private queueHandle?: Queue;
  private flowHandle?: FlowProducer;

  private constructor(readonly settings: ConnectionSettings, readonly redis: Redis) {
    this.keys = new QueueKeys(settings);
  }

  /** Connects and checks that Redis answers (RedisUnavailableError otherwise). */
  static async open(settings: ConnectionSettings): Promise<QueueContext> {
    return new QueueContext(settings, await openRedis(settings));
  }

  get queue(): Queue {
    this.queueHandle ??= new Queue(this.settings.queue, { connection: bullConnection(this.settings), prefix: this.settings.prefix });
    return this.queueHandle;
  }

  get flow(): FlowProducer {
    this.flowHandle ??= new FlowProducer({ connection: bullConnection(this.settings), prefix: this.settings.prefix });
    return this.flowHandle;
  }

  async close(): Promise<void> {
    await this.queueHandle?.close();
    await this.flowHandle?.close();
    this.redis.disconnect();
  }
}

/**
 * Deletes every key that starts with `literalPrefix` (SCAN + UNLINK, in batches); returns how many.
 * The prefix is escaped: it matches itself only, whatever characters it holds. Only for whole
 * namespaces (tests, an operator's cleanup); a job's data is deleted by exact keys (job-data.ts).
 */
export async function deleteKeysWithPrefix(redis: Redis, literalPrefix: string): Promise<number> {
  const pattern = `${escapeGlob(literalPrefix)}*`;
  let cursor = '0';
  let n = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    // SCAN MATCH is checked again here: a key is removed only if it really starts with the literal.
    const own = found.filter((k) => k.startsWith(literalPrefix));
    if (own.length > 0) n += await redis.unlink(...own);
  } while (cursor !== '0');
  return n;
}
