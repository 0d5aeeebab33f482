/** Connection settings → ioredis options: URL parts, password and TLS passed through, env fallbacks, errors naming the option. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { UsageError } from '../../src/errors/index.ts';
import { connectionFromOptions, describeUrl, redisOptions } from '../../queue/connection.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir('conn');
afterAll(() => tmp.remove());

it('defaults, then the environment, then the options', () => {
  expect(connectionFromOptions({}, {})).toMatchObject({ url: 'redis://127.0.0.1:6379', queue: 'backpack', prefix: 'bp' });
  const env = { REDIS_URL: 'redis://r:7000', REDIS_PASSWORD: 'envpw', BACKPACK_QUEUE: 'stats', BACKPACK_QUEUE_PREFIX: 'p1' };
  expect(connectionFromOptions({}, env)).toMatchObject({ url: 'redis://r:7000', password: 'envpw', queue: 'stats', prefix: 'p1' });
  expect(connectionFromOptions({ redis: 'redis://h:1', redisPassword: 'cli', queue: 'q', prefix: 'p2' }, env)).toMatchObject({ url: 'redis://h:1', password: 'cli', queue: 'q', prefix: 'p2' });
});

it('URL parts, password and TLS reach ioredis; BullMQ gets maxRetriesPerRequest null', () => {
  const plain = redisOptions(connectionFromOptions({ redis: 'redis://alice:s%40cret@10.0.0.5:6380/2' }, {}));
  expect(plain).toMatchObject({ host: '10.0.0.5', port: 6380, db: 2, username: 'alice', password: 's@cret', maxRetriesPerRequest: null });
  expect(plain.tls).toBeUndefined();
  expect(redisOptions(connectionFromOptions({ redis: 'rediss://h:6390' }, {})).tls).toEqual({});
  const ca = path.join(tmp.dir, 'ca.pem');
  writeFileSync(ca, 'PEM');
  const tls = redisOptions(connectionFromOptions({ redis: 'redis://h', redisTlsCa: ca, redisTlsServername: 'redis.internal', redisTlsInsecure: true, redisPassword: 'pw' }, {}));
  expect(tls).toMatchObject({ port: 6379, password: 'pw', tls: { servername: 'redis.internal', rejectUnauthorized: false } });
  expect(String(tls.tls?.ca)).toBe('PEM');
  expect(describeUrl(connectionFromOptions({ redis: 'redis://u:pw@h:1' }, {}))).toBe('redis://u:***@h:1');
});

it('bad settings name the option', () => {
  expect(() => redisOptions(connectionFromOptions({ redis: 'localhost:6379' }, {}))).toThrow(/--redis: unsupported scheme 'localhost:'/);
  expect(() => redisOptions(connectionFromOptions({ redis: 'not a url' }, {}))).toThrow(UsageError);
  expect(() => redisOptions(connectionFromOptions({ redisTlsCa: '/nope/ca.pem' }, {}))).toThrow(/--redis-tls-ca: cannot read \/nope\/ca\.pem \(ENOENT\)/);
});
