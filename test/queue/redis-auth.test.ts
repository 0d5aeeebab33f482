/**
 * The Redis password never has to be on a command line (where every user of the host sees it in
 * ps): against a PRIVATE redis-server with requirepass, every command connects with the password
 * from BACKPACK_REDIS_PASSWORD, from REDIS_URL, or from --redis-password-file; --redis-password
 * still works but warns; `--help` says all this.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { UsageError } from '../../src/errors/index.ts';
import { connectionFromOptions, secretWarnings } from '../../queue/connection.ts';
import { runCli } from '../helpers/cli.ts';
import { OwnRedis, tempDir } from './helpers.ts';

const PASSWORD = 'pw-Quiet-Horse-42';
const tmp = tempDir('auth');
const data = tempDir('auth-redis');
let redis: OwnRedis;
let conn: string[];

beforeAll(async () => {
  redis = await OwnRedis.start(data.dir, [], PASSWORD);
  conn = ['--redis', redis.url, '--prefix', 'bpt-auth', '--queue', 'q'];
});

afterAll(async () => {
  await redis?.stop();
  tmp.remove();
  data.remove();
});

/** Runs the CLI with some environment variables set (and REDIS_* cleared), restoring them afterwards. */
async function withEnv(env: Record<string, string>, args: string[]) {
  const names = ['BACKPACK_REDIS_PASSWORD', 'REDIS_PASSWORD', 'REDIS_URL', ...Object.keys(env)];
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
  for (const n of names) delete process.env[n];
  Object.assign(process.env, env);
  try {
    return await runCli(args);
  } finally {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  }
}

it('without a password the server refuses: a typed environment error', async () => {
  const r = await withEnv({}, ['status', ...conn]);
  expect(r.code).toBe(5);
  expect(r.stderr).toMatch(/RedisUnavailableError: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(NOAUTH.*BACKPACK_REDIS_PASSWORD \/ --redis-password-file/);
});

it('the password from BACKPACK_REDIS_PASSWORD, REDIS_PASSWORD or REDIS_URL: nothing on the command line, no warning', async () => {
  for (const env of [{ BACKPACK_REDIS_PASSWORD: PASSWORD }, { REDIS_PASSWORD: PASSWORD }] as Record<string, string>[]) {
    const r = await withEnv(env, ['status', ...conn]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('no jobs');
  }
  const url = redis.url.replace('redis://', `redis://:${encodeURIComponent(PASSWORD)}@`);
  const r = await withEnv({ REDIS_URL: url }, ['status', '--prefix', 'bpt-auth', '--queue', 'q']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});

it('the password from --redis-password-file (first line); a file others can read is warned about', async () => {
  const file = path.join(tmp.dir, 'redis.pw');
  writeFileSync(file, `${PASSWORD}\n`);
  chmodSync(file, 0o600);
  const ok = await withEnv({}, ['status', ...conn, '--redis-password-file', file]);
  expect(ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  chmodSync(file, 0o644);
  const loose = await withEnv({}, ['status', ...conn, '--redis-password-file', file]);
  expect(loose.code).toBe(0);
  expect(loose.stderr).toMatch(/warning: --redis-password-file .* is readable by other users \(chmod 600 it\)/);
  const missing = await withEnv({}, ['status', ...conn, '--redis-password-file', path.join(tmp.dir, 'nope')]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/UsageError: --redis-password-file: cannot read .*nope \(ENOENT\)/);
});

it('--redis-password still works, with a warning that ps shows it; a password in --redis is warned about too', async () => {
  const r = await withEnv({}, ['status', ...conn, '--redis-password', PASSWORD]);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/^warning: --redis-password is visible to every user of this host in ps; use BACKPACK_REDIS_PASSWORD or --redis-password-file FILE instead/);
  expect(secretWarnings({ redis: 'redis://u:pw@h:1' })[0]).toMatch(/--redis carries a password, visible to every user of this host in ps/);
  expect(secretWarnings({ redis: 'redis://h:1' })).toEqual([]);
});

it('precedence: file, then option, then BACKPACK_REDIS_PASSWORD, then REDIS_PASSWORD; both file and option is an error', () => {
  const file = path.join(tmp.dir, 'p2');
  writeFileSync(file, 'from-file\r\nignored');
  expect(connectionFromOptions({ redisPasswordFile: file }, { BACKPACK_REDIS_PASSWORD: 'env' }).password).toBe('from-file');
  expect(connectionFromOptions({ redisPassword: 'opt' }, { BACKPACK_REDIS_PASSWORD: 'env' }).password).toBe('opt');
  expect(connectionFromOptions({}, { BACKPACK_REDIS_PASSWORD: 'env', REDIS_PASSWORD: 'old' }).password).toBe('env');
  expect(connectionFromOptions({}, { REDIS_PASSWORD: 'old' }).password).toBe('old');
  expect(() => connectionFromOptions({ redisPasswordFile: file, redisPassword: 'x' }, {})).toThrow(UsageError);
});

it('--help of every queue command says where the password should come from, in one paragraph (the options are documented once)', async () => {
  for (const cmd of ['worker', 'submit', 'status', 'result', 'cancel', 'dashboard']) {
    const r = await runCli([cmd, '--help']);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help, cmd).toMatch(/--redis-password-file FILE \(or \$BACKPACK_REDIS_PASSWORD, \$REDIS_PASSWORD, or the password in \$REDIS_URL; not --redis-password, which every user sees in ps\)/);
    expect(help, cmd).toContain('see docs/queue.md#connecting-to-redis');
    // Listed once, in that paragraph, not as ten option lines.
    expect(help.match(/--redis-tls-ca/g), cmd).toHaveLength(1);
    expect(help, cmd).not.toMatch(/--redis-tls-ca <file>/);
    // --quiet only where it does something.
    expect(help.includes('--quiet'), cmd).toBe(cmd === 'worker' || cmd === 'submit');
  }
  const worker = (await runCli(['worker', '--help'])).stdout.replace(/\s+/g, ' ');
  expect(worker).toMatch(/--data-root <dir> directory "tensors": "paths" jobs may read from \(repeatable\); without it the worker reads no paths/);
  expect(worker).toMatch(/--output-root <dir> directory under which output\.dir may lie; without it the worker writes no files/);
});
