/**
 * The resumability contract end to end: `backpack-ts sweep` as a child process, SIGKILLed as soon
 * as its first unit is recorded (in the middle of the second: a test hook pauses each unit before
 * it is committed), then run again. The final rows and tensors equal those of an uninterrupted run.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleSweep, filesUnder, sortedRows, tempDir } from './helpers.ts';
import { SOURCE_CLI } from '../helpers/source-cli.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = SOURCE_CLI;

const tmp = tempDir('bp-sweep-kill-');
let file: string;
beforeAll(async () => {
  file = await exampleSweep(tmp.dir, { batchSizes: [16, 32], quantities: ['Variance', 'BatchL2Grad', 'GradientNoiseScale', 'DiagGGNExact'], options: { workers: 2, mode: 'both' } }, 96);
});
afterAll(() => tmp.cleanup());

function startSweep(out: string, extra: string[] = []) {
  const child = spawn(process.execPath, [BIN, 'sweep', file, '--out', out, ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

const progressLines = (out: string) => (existsSync(path.join(out, 'progress.jsonl')) ? readFileSync(path.join(out, 'progress.jsonl'), 'utf8').split('\n').filter(Boolean) : []);

describe('sweep killed mid-way (SIGKILL) and resumed', () => {
  it('ends with the rows and tensors of an uninterrupted run, each unit computed once', async () => {
    const reference = path.join(tmp.dir, 'reference');
    const killed = path.join(tmp.dir, 'killed');
    const ref = startSweep(reference, ['--quiet']);
    const victim = startSweep(killed, ['--quiet', '--debug-unit-delay', '1500']);
    // Poll the progress file; kill the moment the first unit is recorded.
    const t0 = Date.now();
    while (progressLines(killed).length === 0) {
      if (Date.now() - t0 > 30_000) throw new Error('the sweep recorded no unit within 30 s');
      await sleep(20);
    }
    victim.child.kill('SIGKILL');
    const v = await victim.done;
    expect(v.signal).toBe('SIGKILL');
    expect(progressLines(killed)).toHaveLength(1);
    expect(JSON.parse(progressLines(killed)[0]).unit).toBe('step-0--b16--blobs');
    expect(existsSync(path.join(killed, '.lock'))).toBe(true); // left by the dead process: taken over below

    const resumed = await startSweep(killed).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('1 of 4 units already complete');
    expect(resumed.stdout).toMatch(/4 units \(1 complete from an earlier run\), 22 rows/);
    const r = await ref.done;
    expect(r.code, r.stderr).toBe(0);

    const units = progressLines(killed).map((l) => JSON.parse(l).unit as string);
    expect(units).toEqual(['step-0--b16--blobs', 'step-0--b32--blobs', 'step-40--b16--blobs', 'step-40--b32--blobs']);
    expect(sortedRows(killed)).toEqual(sortedRows(reference));
    const tensors = (rel: string) => rel.endsWith('.safetensors');
    const a = filesUnder(killed, tensors);
    expect([...a.keys()].sort()).toEqual(['step-0--b16--blobs', 'step-0--b32--blobs', 'step-40--b16--blobs', 'step-40--b32--blobs'].map((u) => path.join('units', u, 'results.safetensors')));
    expect(a).toEqual(filesUnder(reference, tensors));
    expect(filesUnder(path.join(killed, 'units'), (rel) => rel.startsWith('.tmp')).size).toBe(0);
    expect(existsSync(path.join(killed, '.lock'))).toBe(false);
  });
});
