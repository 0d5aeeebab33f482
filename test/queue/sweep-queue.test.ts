/**
 * `backpack-ts sweep SWEEP.json --queue` with two `backpack-ts worker` processes (one local worker
 * each), one of them SIGKILLed in the middle of a shard: its shard is redelivered to the other,
 * and the sweep's rows, unit tensors, manifest and summary are byte-identical to the local sweep
 * with the same shard plan (options.shardSize, --workers 1). Then a queue sweep whose own process
 * is killed after submitting resumes from Redis and the output directory (the recorded job is
 * reused, not submitted again), again byte-identical. Mode "both" (per-batch and accumulated
 * results) is byte-identical when each batch is one shard. And "queue": {...} in SWEEP.json alone
 * selects the queue; queue options without it are a usage error.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { exampleSweep, filesUnder } from '../sweep/helpers.ts';
import { purge, REPO, spawnWorker, tempDir, testSettings, until, type WorkerProcess } from './helpers.ts';

const settings = testSettings();
const tmp = tempDir('sweep-queue');
const workers: WorkerProcess[] = [];
let file: string;
const at = (f: string) => path.join(tmp.dir, f);
const QUEUE_ARGS = ['--queue', '--redis', settings.url, '--prefix', settings.prefix, '--queue-name', settings.queue];
/** What must be byte-identical: everything a sweep writes but its job-id record, lock and progress log (wall times). */
const results = (out: string) => filesUnder(out, (rel) => !rel.startsWith('queue-jobs') && rel !== 'progress.jsonl' && !rel.startsWith('.') && !rel.includes('/.'));

beforeAll(async () => {
  file = await exampleSweep(tmp.dir, { batchSizes: [8, 12], quantities: ['Variance', 'BatchL2Grad', 'DiagGGNExact'], options: { mode: 'batches', shardSize: 4, format: ['jsonl', 'csv'] } }, 24);
  const local = await runCli(['sweep', file, '--workers', '1', '--out', at('local'), '--quiet']);
  expect(local.code, local.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await purge(settings);
  tmp.remove();
});

it('two workers, one killed mid-shard: byte-identical to the local sweep', async () => {
  const doomed = spawnWorker(settings, ['--workers', '1', '--name', 'doomed', '--lock-duration', '1500', '--stalled-interval', '1000', '--debug-shard-delay', '600000']);
  const good = spawnWorker(settings, ['--workers', '1', '--name', 'good', '--stalled-interval', '1000']);
  workers.push(doomed, good);
  await Promise.all([doomed.waitFor(/on queue/), good.waitFor(/on queue/)]);
  const sweep = runCli(['sweep', file, ...QUEUE_ARGS, '--out', at('queued'), '--quiet']);
  await doomed.waitFor(/shard \d+: started/, 60_000);
  doomed.proc.kill('SIGKILL');
  const r = await sweep;
  expect(r.code, r.stderr).toBe(0);
  expect(good.stderr()).toMatch(/shard \d+: done/);
  const want = results(at('local'));
  const got = results(at('queued'));
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  expect(want.size).toBeGreaterThan(6);
  for (const [rel, bytes] of want) expect(got.get(rel)!.equals(bytes), rel).toBe(true);
  // The units' jobs and pass data are gone once their units are committed.
  expect(existsSync(at('queued/.queue-data')) ? filesUnder(at('queued/.queue-data')).size : 0).toBe(0);
}, 240_000);

it('a queue sweep killed after submitting resumes its recorded job, byte-identical; "queue" in SWEEP.json selects the queue', async () => {
  const spec = JSON.parse(readFileSync(file, 'utf8'));
  const queued = path.join(tmp.dir, 'sweep-queued.json');
  writeFileSync(queued, JSON.stringify({ ...spec, queue: { redis: settings.url, prefix: settings.prefix, name: settings.queue } }));
  const out = at('resumed');
  // No worker yet: the sweep submits its first unit's job and waits; it is killed then.
  for (const w of workers) await w.stop();
  const child = spawn(process.execPath, [path.join(REPO, 'bin/backpack-ts.mjs'), 'sweep', queued, '--out', out], { cwd: REPO, stdio: 'ignore' });
  const jobsFile = path.join(out, 'queue-jobs.json');
  await until('the first job recorded', () => existsSync(jobsFile), 60_000);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited; // its lock names a dead process only once it is gone
  const first = Object.values(JSON.parse(readFileSync(jobsFile, 'utf8')) as Record<string, { batches: string }>)[0].batches;
  workers.push(spawnWorker(settings, ['--workers', '1', '--name', 'second']));
  const r = await runCli(['sweep', queued, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toContain(`resuming batches job ${first}`);
  const want = results(at('local'));
  const got = results(out);
  for (const [rel, bytes] of want) expect(got.get(rel)?.equals(bytes), rel).toBe(true);
}, 240_000);

it('mode "both" (per-batch and accumulated over the pass) with one shard per batch: byte-identical too', async () => {
  const spec = JSON.parse(readFileSync(file, 'utf8'));
  const both = path.join(tmp.dir, 'sweep-both.json');
  writeFileSync(both, JSON.stringify({ ...spec, options: { ...spec.options, mode: 'both', shardSize: 12 } }));
  const local = await runCli(['sweep', both, '--workers', '1', '--out', at('both-local'), '--quiet']);
  expect(local.code, local.stderr).toBe(0);
  const r = await runCli(['sweep', both, ...QUEUE_ARGS, '--out', at('both-queued'), '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  const want = results(at('both-local'));
  const got = results(at('both-queued'));
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  expect(readFileSync(at('both-local/rows.jsonl'), 'utf8')).toMatch(/"batch":"all"/);
  for (const [rel, bytes] of want) expect(got.get(rel)!.equals(bytes), rel).toBe(true);
}, 240_000);

it('queue options without the queue are a usage error', async () => {
  const r = await runCli(['sweep', file, '--redis', settings.url, '--out', at('x')]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/UsageError: --redis, --redis-password-file, --queue-name and --prefix need --queue/);
});
