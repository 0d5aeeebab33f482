/**
 * Resuming in the library: a sweep stopped after some units (an exception, or a crash between a
 * unit's rename and its progress line, leaving a temporary directory behind) continues where it
 * stopped, computes each remaining unit once, and ends with the files of an uninterrupted run.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProgress, readSweepSpec, runSweep } from '../../src/sweep/index.ts';
import { exampleSweep, filesUnder, sortedRows, tempDir } from './helpers.ts';

const tmp = tempDir('bp-sweep-resume-');
let file: string;
let reference: string;
// Everything but the progress log (it holds wall times) and the lock.
const compared = (rel: string) => rel !== 'progress.jsonl' && rel !== '.lock';

beforeAll(async () => {
  file = await exampleSweep(tmp.dir, { batchSizes: [16, 48], quantities: ['Variance', 'BatchL2Grad', 'GradientNoiseScale'], options: { workers: 0, mode: 'both', format: ['jsonl', 'csv'] } }, 64);
  reference = path.join(tmp.dir, 'reference');
  await runSweep(await readSweepSpec(file), { out: reference });
});
afterAll(() => tmp.cleanup());

describe('resume', () => {
  it('after an interruption: the remaining units only, identical files', async () => {
    const out = path.join(tmp.dir, 'interrupted');
    const stop = new Error('stop after the first unit');
    await expect(runSweep(await readSweepSpec(file), { out, onUnit: () => { throw stop; } })).rejects.toBe(stop);
    expect((await readProgress(out)).map((e) => e.unit)).toEqual(['step-0--b16--blobs']);
    const s = await runSweep(await readSweepSpec(file), { out });
    expect([s.resumed, s.computed]).toEqual([1, 3]);
    expect((await readProgress(out)).map((e) => e.unit)).toEqual(['step-0--b16--blobs', 'step-0--b48--blobs', 'step-40--b16--blobs', 'step-40--b48--blobs']);
    expect(filesUnder(out, compared)).toEqual(filesUnder(reference, compared));
  });

  it('a unit renamed into place but never recorded is recomputed; temporary directories are removed', async () => {
    const out = path.join(tmp.dir, 'crashed');
    await runSweep(await readSweepSpec(file), { out });
    const progress = path.join(out, 'progress.jsonl');
    const lines = readFileSync(progress, 'utf8').trim().split('\n');
    writeFileSync(progress, `${lines.slice(0, -1).join('\n')}\n`); // the last unit's line never made it
    mkdirSync(path.join(out, 'units', '.tmp-step-40--b48--blobs-99999'));
    writeFileSync(path.join(out, 'units', '.tmp-step-40--b48--blobs-99999', 'rows.jsonl'), 'half a line');
    const s = await runSweep(await readSweepSpec(file), { out });
    expect([s.resumed, s.computed]).toEqual([3, 1]);
    expect(readdirSync(path.join(out, 'units')).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    const units = (await readProgress(out)).map((e) => e.unit);
    expect(new Set(units).size).toBe(units.length);
    expect(sortedRows(out)).toEqual(sortedRows(reference));
    expect(filesUnder(out, compared)).toEqual(filesUnder(reference, compared));
    expect(existsSync(path.join(out, '.lock'))).toBe(false);
  });

  it('a complete sweep run again computes nothing', async () => {
    const s = await runSweep(await readSweepSpec(file), { out: reference });
    expect([s.resumed, s.computed, s.rows.length]).toEqual([4, 0, 2 * (4 + 1) + 2 * (2 + 1)]);
  });
});
