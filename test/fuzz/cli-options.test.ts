/**
 * Fuzz: every option of `run` and the queue commands' numeric options with bad values, missing
 * and unknown options, and paths that are not files, end in typed errors (exit 2 for the command
 * line, 3 for files, 4 unsupported, 5 environment) within the time and memory bounds (harness.ts).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { OPTION_CASES } from './cases/options.ts';
import { expectTypedFailure, FuzzFiles, runCase } from './harness.ts';

let files: FuzzFiles;
beforeAll(() => {
  files = new FuzzFiles('options');
});
afterAll(() => files.remove());

describe('fuzz command-line options', () => {
  it.each(OPTION_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expectTypedFailure(await runCase(files, c), c);
  });
});
