/**
 * Shared pieces of the queue tests (real Redis at REDIS_URL, default redis://127.0.0.1:6379): a
 * random key prefix per test file (deleted afterwards), job files written from the coordinator
 * tests' seeded models, results read back from disk, a private redis-server (AOF, free loopback
 * port) for the restart tests, and `backpack-ts worker` child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { RunResult } from '../../src/api/run.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { readTensorMap, writeNpyFile, writeSafetensorsFile } from '../../src/io/tensor-file.ts';
import type { ConnectionSettings } from '../../queue/connection.ts';
import { deleteKeysWithPrefix } from '../../queue/context.ts';
import { readFile } from 'node:fs/promises';
import { disposeJob, type TestJob } from '../helpers/pool-fixtures.ts';
import { SOURCE_CLI } from '../helpers/source-cli.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Settings with a fresh random prefix: nothing this test writes can meet another test's keys. */
export function testSettings(url = REDIS_URL): ConnectionSettings {
  return { url, prefix: `bpt-${randomBytes(5).toString('hex')}`, queue: 'q' };
}

/** Deletes every key under the settings' prefix. */
export async function purge(s: ConnectionSettings): Promise<number> {
  const redis = new Redis(s.url, { maxRetriesPerRequest: 3 });
  try {
    return await deleteKeysWithPrefix(redis, `${s.prefix}:`);
  } finally {
    redis.disconnect();
  }
}

/** A queue test file's teardown: its worker, its context, its keys, its folder and its model. */
export async function closeQueueTest(t: { worker?: { close(force?: boolean): Promise<unknown> }; ctx?: { close(): Promise<unknown> }; settings: ConnectionSettings; tmp: { remove(): void }; job?: TestJob }): Promise<void> {
  await t.worker?.close(true);
  await t.ctx?.close();
  await purge(t.settings);
  t.tmp.remove();
  if (t.job) disposeJob(t.job);
}

export async function countKeys(s: ConnectionSettings, pattern = `${s.prefix}:*`): Promise<string[]> {
  const redis = new Redis(s.url, { maxRetriesPerRequest: 3 });
  try {
    return await redis.keys(pattern);
  } finally {
    redis.disconnect();
  }
}

export function tempDir(label: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `bp-queue-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes model.json, weights, inputs, targets (and vectors) and a JOB.json; returns the JOB.json path. */
export async function writeJob(dir: string, job: TestJob, fields: Record<string, unknown> = {}, tensors: { inputs?: HostTensor; targets?: HostTensor } = {}): Promise<string> {
  const t = job.tensors;
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(t.spec));
  await writeSafetensorsFile(path.join(dir, 'weights.safetensors'), t.weights);
  await writeNpyFile(path.join(dir, 'inputs.npy'), tensors.inputs ?? t.inputs);
  await writeNpyFile(path.join(dir, 'targets.npy'), tensors.targets ?? t.targets);
  const file = path.join(dir, `job-${randomBytes(3).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify({ model: 'model.json', weights: 'weights.safetensors', inputs: 'inputs.npy', targets: 'targets.npy', ...fields }));
  return file;
}

/** results.safetensors + summary.json of a directory, as a RunResult. */
export async function readResults(dir: string): Promise<RunResult> {
  const results = await readTensorMap(path.join(dir, 'results.safetensors'));
  const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as { loss: number; N: number; shards: number };
  return { loss: summary.loss, N: summary.N, results, shards: summary.shards, timings: { computeMs: 0, reduceMs: 0 } };
}

/** Same keys (any order), same bytes, same loss. */
export function sameBits(a: RunResult, b: RunResult): string[] {
  const diffs: string[] = [];
  if (a.loss !== b.loss) diffs.push(`loss ${a.loss} vs ${b.loss}`);
  const keys = new Set([...a.results.keys(), ...b.results.keys()]);
  for (const k of keys) {
    const x = a.results.get(k);
    const y = b.results.get(k);
    const bytes = (t: HostTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (!x || !y || !bytes(x).equals(bytes(y))) diffs.push(k);
  }
  return diffs;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000, everyMs = 100): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A private redis-server on a free loopback port (never the shared one), with its data in `dir`. */
export class OwnRedis {
  private proc?: ChildProcess;
  readonly url: string;
  private constructor(readonly port: number, readonly dir: string, private args: string[], private password?: string) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** `password`: the server's requirepass (the readiness probe authenticates with it). */
  static async start(dir: string, args: string[] = [], password?: string): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort(), dir, password === undefined ? args : [...args, '--requirepass', password], password);
    await r.launch();
    return r;
  }

  async launch(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...this.args], { stdio: 'ignore' });
    let spawnError: Error | undefined;
    this.proc.on('error', (e) => {
      spawnError = new Error(`cannot start redis-server (${e.message}): this test needs it on PATH (.ci/run installs it)`);
    });
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, password: this.password });
    probe.on('error', () => {});
    try {
      await until(`redis-server on port ${this.port}`, async () => {
        if (spawnError) throw spawnError;
        try {
          if (probe.status !== 'ready') await probe.connect();
          return (await probe.ping()) === 'PONG';
        } catch {
          probe.disconnect();
          return false;
        }
      }, 10_000, 50);
    } finally {
      probe.disconnect();
    }
  }

  /** Kills the server at once (SIGKILL): only what it had persisted survives. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}

export interface WorkerProcess {
  proc: ChildProcess;
  stderr: () => string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** `backpack-ts worker` in a child process (from the sources: its own pool and BullMQ worker). */
export function spawnWorker(s: ConnectionSettings, args: string[]): WorkerProcess {
  const proc = spawn(process.execPath, [SOURCE_CLI, 'worker', '--redis', s.url, '--prefix', s.prefix, '--queue', s.queue, ...args], {
    cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, REDIS_URL: s.url },
  });
  let err = '';
  proc.stderr!.on('data', (d) => {
    err += String(d);
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    stderr: () => err,
    waitFor: (pattern, timeoutMs = 30_000) => until(`worker stderr ${pattern} (got: ${err.slice(-500)})`, () => {
      if (proc.exitCode !== null && !pattern.test(err)) throw new Error(`worker exited (${proc.exitCode}) before ${pattern}: ${err.slice(-1000)}`);
      return pattern.test(err);
    }, timeoutMs, 50),
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
