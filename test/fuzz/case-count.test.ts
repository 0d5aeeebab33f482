/**
 * The fuzz suite's size: at least 250 malformed inputs across tensor files, model specs, options
 * and job records (the queue's own records, written straight into Redis, are counted elsewhere).
 */
import { expect, it } from 'vitest';
import { JOB_CASES } from './cases/jobs.ts';
import { NPY_CASES } from './cases/npy.ts';
import { OPTION_CASES } from './cases/options.ts';
import { SAFETENSORS_CASES } from './cases/safetensors.ts';
import { SPEC_CASES } from './cases/specs.ts';

it('covers at least 250 cases, each with a unique name', () => {
  const all = [...NPY_CASES, ...SAFETENSORS_CASES, ...SPEC_CASES, ...OPTION_CASES, ...JOB_CASES];
  expect(all.length).toBeGreaterThanOrEqual(250);
  expect(new Set(all.map((c) => c.name)).size).toBe(all.length);
  for (const group of [NPY_CASES, SAFETENSORS_CASES, SPEC_CASES, OPTION_CASES, JOB_CASES]) expect(group.length).toBeGreaterThanOrEqual(40);
});
