/**
 * A `backpack-ts worker` process stops cleanly whichever pid is signalled: its own (SIGTERM, exit 0),
 * or that of a wrapper which started it and exits without passing the signal on (as npx's npm
 * process does): the orphaned worker notices its new parent and stops as if signalled. Its log
 * lines carry timestamps.
 */
import { spawn } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { SOURCE_CLI } from '../helpers/source-cli.ts';
import { purge, REPO, spawnWorker, testSettings, until } from './helpers.ts';

const settings = testSettings();
const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d /;

afterAll(async () => {
  await purge(settings);
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('SIGTERM to the worker: it stops after its active shards and exits 0; every log line starts with a timestamp', async () => {
  const w = spawnWorker(settings, ['--workers', '1']);
  await w.waitFor(/on queue 'q'/);
  const exit = new Promise<number | null>((resolve) => w.proc.once('exit', (code) => resolve(code)));
  w.proc.kill('SIGTERM');
  expect(await exit).toBe(0);
  const lines = w.stderr().trim().split('\n');
  expect(lines.length).toBeGreaterThanOrEqual(2);
  for (const line of lines) expect(line).toMatch(STAMP);
  expect(w.stderr()).toMatch(/SIGTERM: stopping after the active shards/);
}, 60_000);

it('SIGTERM to a wrapper that exits without passing it on (npx): the orphaned worker stops by itself', async () => {
  // The wrapper ignores SIGINT and dies of SIGTERM, as npm exec does; it prints the worker's pid.
  const wrapper = `
    const { spawn } = require('node:child_process');
    process.on('SIGINT', () => {});
    const child = spawn(process.execPath, ${JSON.stringify([SOURCE_CLI, 'worker', '--workers', '1', '--redis', settings.url, '--prefix', settings.prefix, '--queue', settings.queue])}, { stdio: ['ignore', 'ignore', 'inherit'] });
    process.stdout.write(child.pid + '\\n');
  `;
  const proc = spawn(process.execPath, ['-e', wrapper], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += String(d)));
  proc.stderr!.on('data', (d) => (err += String(d)));
  await until('the worker to start', () => /on queue 'q'/.test(err), 30_000, 50);
  const workerPid = Number(out.trim());
  expect(workerPid).toBeGreaterThan(0);
  proc.kill('SIGTERM');
  await until(`the orphaned worker to exit (its log: ${err})`, () => !alive(workerPid), 25_000, 100);
  expect(err).toMatch(new RegExp(`parent process ${proc.pid} ended: stopping after the active shards`));
}, 60_000);
