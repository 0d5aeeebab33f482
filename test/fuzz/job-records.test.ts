/**
 * Fuzz: malformed JOB.json records given to `backpack-ts submit` end in typed errors within the
 * time and memory bounds (harness.ts), and submit writes nothing to Redis for any of them (a
 * fresh key prefix per run, checked empty at the end). Needs Redis at REDIS_URL, as the queue
 * tests do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countKeys, purge, testSettings } from '../queue/helpers.ts';
import { JOB_CASES, queueArgs } from './cases/jobs.ts';
import { expectTypedFailure, FuzzFiles, runCase } from './harness.ts';

const settings = testSettings();
let files: FuzzFiles;

beforeAll(() => {
  files = new FuzzFiles('jobs');
  queueArgs.value = ['--redis', settings.url, '--prefix', settings.prefix, '--queue', settings.queue, '--quiet'];
});

afterAll(async () => {
  files.remove();
  await purge(settings);
});

describe('fuzz job records', () => {
  it.each(JOB_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expectTypedFailure(await runCase(files, c), c);
  });

  it('nothing of any refused job was written to Redis', async () => {
    expect(await countKeys(settings)).toEqual([]);
  });
});
