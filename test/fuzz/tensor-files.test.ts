/**
 * Fuzz: malformed .npy and .safetensors files given to `run` (inputs, targets, weights, vectors)
 * end in typed errors within the time and memory bounds (harness.ts), never in a result.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { NPY_CASES } from './cases/npy.ts';
import { SAFETENSORS_CASES } from './cases/safetensors.ts';
import { expectTypedFailure, FuzzFiles, runCase } from './harness.ts';

let files: FuzzFiles;
beforeAll(() => {
  files = new FuzzFiles('tensors');
});
afterAll(() => files.remove());

describe.each([['.npy', NPY_CASES], ['.safetensors', SAFETENSORS_CASES]] as const)('fuzz %s', (_kind, cases) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expectTypedFailure(await runCase(files, c), c);
  });
});
