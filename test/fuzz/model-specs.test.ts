/**
 * Fuzz: malformed model specs (every attribute of every layer of the base model with bad values,
 * unknown layers, bad graphs, sizes only the memory estimate can refuse, bad model files) given
 * to `run` end in typed errors within the time and memory bounds (harness.ts).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { SPEC_CASES } from './cases/specs.ts';
import { expectTypedFailure, FuzzFiles, runCase } from './harness.ts';

let files: FuzzFiles;
beforeAll(() => {
  files = new FuzzFiles('specs');
});
afterAll(() => files.remove());

describe('fuzz model specs', () => {
  it.each(SPEC_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expectTypedFailure(await runCase(files, c), c);
  });
});
