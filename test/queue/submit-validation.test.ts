/**
 * `submit` rejects what a worker could not run, with a typed error, before it writes anything to
 * Redis: malformed job files (named JSON path), unknown quantities, bad tensors and weights, KFRA
 * split across shards, and oversized uploads (a clear message; no key, no queue job left behind).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { TensorFileError, UnknownExtensionError, UsageError, WeightsError } from '../../src/errors/index.ts';
import { JobSpecError, NotShardableError, PayloadTooLargeError } from '../../src/errors/queue-errors.ts';
import { QueueContext } from '../../queue/context.ts';
import { readJobFile } from '../../queue/job-schema.ts';
import { submitJob, type SubmitOptions } from '../../queue/submit.ts';
import { writeSafetensorsFile } from '../../src/io/tensor-file.ts';
import { runCli } from '../helpers/cli.ts';
import { disposeJob, makeJob, MODEL_SPECS, type TestJob } from '../helpers/pool-fixtures.ts';
import { countKeys, purge, tempDir, testSettings, writeJob } from './helpers.ts';

const settings = testSettings();
const tmp = tempDir('validate');
let ctx: QueueContext;
let job: TestJob;
let base: Record<string, unknown>;

beforeAll(async () => {
  await useBackend('wasm');
  job = makeJob('mlp', 20);
  ctx = await QueueContext.open(settings);
  const file = await writeJob(tmp.dir, job);
  const extra = { dtype: 'float32' as const, shape: [2], data: new Float32Array(2) };
  await writeSafetensorsFile(path.join(tmp.dir, 'weights-extra.safetensors'), new Map([...job.tensors.weights, ['9.weight', extra], ['head.bias', extra]]));
  base = { model: 'model.json', weights: 'weights.safetensors', inputs: 'inputs.npy', targets: 'targets.npy' };
  expect(path.dirname(file)).toBe(tmp.dir);
});

afterAll(async () => {
  await ctx?.close();
  await purge(settings);
  tmp.remove();
  if (job) disposeJob(job);
});

function jobFile(fields: Record<string, unknown>, text?: string): string {
  const file = path.join(tmp.dir, `job-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, text ?? JSON.stringify({ ...base, ...fields }));
  return file;
}

async function rejection(fields: Record<string, unknown>, opts: SubmitOptions = {}, text?: string): Promise<Error> {
  try {
    await submitJob(ctx, await readJobFile(jobFile(fields, text)), opts);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected submit to fail');
}

describe('submit refuses, writing nothing', () => {
  const cases: [string, Record<string, unknown>, new (...a: never[]) => Error, RegExp, string?][] = [
    ['not JSON', {}, JobSpecError, /not valid JSON/, '{ "model": '],
    ['an unknown field', { shards: 3 }, JobSpecError, /\(root\): Unrecognized key.*"shards"/],
    ['a bad option', { options: { shardSize: 0 } }, JobSpecError, /options\.shardSize: Too small/],
    ['accumulate without batchSize', { options: { accumulate: true } }, JobSpecError, /options\.accumulate needs options\.batchSize/],
    ['an unknown quantity', { extensions: ['Variance', 'Varience'] }, UnknownExtensionError, /unknown extension 'Varience'/],
    ['a missing tensor file', { inputs: 'nope.npy' }, TensorFileError, /nope\.npy: file not found/],
    ['weights that do not fit the model', { model: { ...MODEL_SPECS.mlp, layers: [{ type: 'Linear', in_features: 4, out_features: 3 }] } }, WeightsError, /0\.weight/],
    ['subsampling outside the batch', { options: { subsampling: [3, 20] } }, UsageError, /subsampling index 20 is outside \[0, 20\)/],
    ['KFRA over several shards', { extensions: ['KFRA'], options: { shardSize: 5 } }, NotShardableError, /KFRA cannot be split across queue shards/],
    ['weights the model does not use', { weights: 'weights-extra.safetensors' }, WeightsError, /weights-extra\.safetensors: 2 tensors the model does not use: '9\.weight', 'head\.bias'\. .*\(options\.allowExtraWeights accepts them\)/],
  ];
  it.each(cases)('%s', async (_label, fields, Cls, message, text) => {
    const e = await rejection(fields, {}, text);
    expect(e).toBeInstanceOf(Cls);
    expect(e.message).toMatch(message);
    expect(await countKeys(settings)).toEqual([]);
  });

  it('an upload over --max-upload: a message naming the sizes and the limit, nothing written', async () => {
    const e = await rejection({ extensions: ['Variance'] }, { maxUploadBytes: 100 });
    expect(e).toBeInstanceOf(PayloadTooLargeError);
    expect(e.message).toMatch(/would upload 0\.7 KiB of tensors into Redis \(weights 0\.2 KiB, inputs 0\.3 KiB, targets 0\.2 KiB\); the limit is 0\.1 KiB \(--max-upload\)/);
    expect(e.message).toMatch(/Nothing was written/);
    expect(await countKeys(settings)).toEqual([]);
    // The same job with its tensors on shared storage is fine (and a one-shard KFRA job too).
    const ok = await submitJob(ctx, await readJobFile(jobFile({ tensors: 'paths', extensions: ['KFRA'], options: { shardSize: 20 } })), { maxUploadBytes: 100 });
    expect(ok).toMatchObject({ shards: 1, uploadedBytes: 0 });
  });

  it('the CLI: typed message and exit code', async () => {
    const conn = ['--redis', settings.url, '--prefix', settings.prefix, '--queue', settings.queue, '--quiet'];
    const bad = await runCli(['submit', jobFile({ output: { dir: 3 } }), ...conn]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error \[E_USAGE\] JobSpecError: .*output\.dir: Invalid input: expected string/);
    const big = await runCli(['submit', jobFile({}), '--max-upload', '100', ...conn]);
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/PayloadTooLargeError: .* the limit is 0\.1 KiB \(--max-upload\)/);
    const kfra = await runCli(['submit', jobFile({ extensions: 'KFRA', options: { shardSize: 4 } }), ...conn]);
    expect(kfra.code).toBe(4);
    const noRedis = await runCli(['status', '--redis', 'redis://127.0.0.1:1']);
    expect(noRedis.code).toBe(5);
    expect(noRedis.stderr).toMatch(/RedisUnavailableError: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  it('options.allowExtraWeights accepts weights the model does not use (the job is enqueued)', async () => {
    const ok = await submitJob(ctx, await readJobFile(jobFile({ weights: 'weights-extra.safetensors', options: { allowExtraWeights: true } })), {});
    expect(ok.N).toBe(20);
    expect(ok.jobId).toMatch(/^j[a-z0-9]+$/);
    await purge(settings);
  });
});
