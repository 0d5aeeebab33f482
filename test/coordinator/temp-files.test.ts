/**
 * Temporary files (spill directories in the output directory, /dev/shm job and worker
 * directories, a results file being written) are removed on every exit path: a normal end, an
 * error mid-job (a worker throwing), SIGTERM/SIGINT; and what a SIGKILL leaves is removed by the
 * next start, which recognises it by name prefix and dead pid.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { createPool } from '../../src/coordinator/create-pool.ts';
import { runJobToFile } from '../../src/coordinator/run-job.ts';
import { pidAlive, removeStale } from '../../src/coordinator/temp-files.ts';
import { ShardFailedError } from '../../src/coordinator/dispatch.ts';
import { SHM_ROOT } from '../../src/protocol/shm-transport.ts';
import { SPILL_PATTERN } from '../../src/reduce/row-spill.ts';
import { processTree, spawnCli, writeMlpJob } from '../helpers/cli-process.ts';
import { disposeJob, faultCounter, liveChildPids, makeJob, POOL_KINDS, type TestJob } from '../helpers/pool-fixtures.ts';

let dir: string;
let files: ReturnType<typeof writeMlpJob>;
let tiny: ReturnType<typeof writeMlpJob>;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bp-temp-files-'));
  mkdirSync(path.join(dir, 'job'));
  mkdirSync(path.join(dir, 'tiny'));
  files = writeMlpJob(path.join(dir, 'job'), 96);
  tiny = writeMlpJob(path.join(dir, 'tiny'), 4);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const spillDirs = (out: string) => (existsSync(out) ? readdirSync(out).filter((n) => SPILL_PATTERN.test(n)) : []);
const shmOf = (pids: number[]) => readdirSync(SHM_ROOT).filter((n) => pids.some((pid) => n.startsWith(`backpack-job-${pid}-`) || n.startsWith(`backpack-worker-${pid}-`)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  for (const t0 = Date.now(); !ok(); await sleep(50)) if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
}

/** A streamed job long enough to interrupt: ~14 shards of 7 samples, rows spilled as they finish. */
function startJob(out: string, pool: string[]) {
  return spawnCli(['run', '--model', files.model, '--weights', files.weights, '--inputs', files.inputs, '--targets', files.targets,
    '--extensions', 'BatchGrad', '--out', out, '--max-memory', '64M', '--quiet', ...pool]);
}

/** Waits until the job has spilled a first shard's rows (so every kind of temporary file exists). */
async function waitForSpill(out: string): Promise<void> {
  await until('a spill file', () => spillDirs(out).some((d) => readdirSync(path.join(out, d)).length > 0));
}

describe('removeStale', () => {
  it('removes entries of dead pids only', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'bp-stale-'));
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => child.on('exit', r));
    const dead = child.pid!;
    expect(pidAlive(dead)).toBe(false);
    for (const name of [`.backpack-spill-${dead}-a`, `.backpack-spill-${process.ppid}-b`, `.backpack-spill-${process.pid}-c`, 'results.safetensors']) mkdirSync(path.join(root, name));
    expect(removeStale(root, SPILL_PATTERN)).toEqual([`.backpack-spill-${dead}-a`]);
    expect(readdirSync(root).sort()).toEqual([`.backpack-spill-${process.pid}-c`, `.backpack-spill-${process.ppid}-b`, 'results.safetensors'].sort());
    rmSync(root, { recursive: true, force: true });
  });
});

describe('the CLI interrupted', () => {
  it('kill -9 mid-run leaves spill and shm files; the next start removes them', async () => {
    const out = path.join(dir, 'out-kill9');
    const run = startJob(out, ['--workers', '2', '--pool', 'processes']);
    await waitForSpill(out);
    const tree = processTree(run.child.pid!);
    run.child.kill('SIGKILL');
    await run.done;
    const coordinator = run.child.pid!;
    expect(spillDirs(out).length, 'spill directory left by the killed run').toBe(1);
    expect(shmOf([coordinator]).length, 'shm job directory left by the killed run').toBe(1);
    // Its orphaned workers notice the lost parent after their shard and remove their own directories.
    await until('the orphaned workers to exit', () => tree.slice(1).every((pid) => !pidAlive(pid)));

    const next = spawnCli(['run', '--model', tiny.model, '--weights', tiny.weights, '--inputs', tiny.inputs, '--targets', tiny.targets,
      '--extensions', 'BatchGrad', '--out', out, '--stream', '--quiet', '--workers', '1', '--pool', 'processes']);
    const r = await next.done;
    expect(r.code, r.stderr).toBe(0);
    expect(spillDirs(out)).toEqual([]);
    expect(shmOf(tree)).toEqual([]);
    expect(readdirSync(out).sort()).toEqual(['results.safetensors', 'summary.json']);
  }, 120_000);

  it.each([
    ['SIGTERM', 'processes'],
    ['SIGINT', 'threads'],
  ] as const)('%s mid-run (%s) removes every temporary file at once and ends by the signal', async (signal, pool) => {
    const out = path.join(dir, `out-${signal}`);
    const run = startJob(out, ['--workers', '2', '--pool', pool]);
    await waitForSpill(out);
    const tree = processTree(run.child.pid!);
    run.child.kill(signal);
    const r = await run.done;
    expect(r.signal, r.stderr).toBe(signal);
    expect(spillDirs(out), r.stderr).toEqual([]);
    expect(existsSync(path.join(out, 'results.safetensors.partial'))).toBe(false);
    // Worker processes were ended with it, their directories removed.
    await until('the workers to be gone', () => tree.every((pid) => !pidAlive(pid)), 10_000);
    expect(shmOf(tree)).toEqual([]);
  }, 120_000);
});

describe.each(POOL_KINDS)('an error mid-job on %s', (kind) => {
  let job: TestJob;
  beforeAll(async () => {
    await useBackend('wasm');
    job = makeJob('mlp', 40);
  });
  afterAll(() => disposeJob(job));

  it('a worker throwing after other shards were spilled: the job fails, its spill and shm files are gone', async () => {
    const pool = createPool(kind, 2);
    const out = mkdtempSync(path.join(tmpdir(), 'bp-error-'));
    try {
      const failing = runJobToFile(pool, { ...job.tensors, vectors: undefined }, {
        extensions: ['BatchGrad'], shardSize: 4, backend: 'wasm', retries: 0,
        fault: { kind: 'throw', shardId: 6, times: 1, counter: faultCounter(1) },
      }, out, {});
      await expect(failing).rejects.toThrow(ShardFailedError);
      expect(readdirSync(out)).toEqual([]);
      expect(readdirSync(SHM_ROOT).filter((n) => n.startsWith(`backpack-job-${process.pid}-`))).toEqual([]);
    } finally {
      await pool.close();
      rmSync(out, { recursive: true, force: true });
    }
    expect(liveChildPids()).toEqual([]);
  }, 60_000);
});
