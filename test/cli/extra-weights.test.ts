/**
 * Tensors in a weights file that the model does not use are an error listing them (torch's strict
 * load_state_dict), found from the file's header before any data is read; --allow-extra-weights
 * (queue and sweep files: options.allowExtraWeights) accepts them, and the results are then those of
 * the file without them. torch's BatchNorm `num_batches_tracked` is not an extra.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeightsError } from '../../src/errors/index.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { writeNpyFile, writeSafetensorsFile, readTensorMap } from '../../src/io/tensor-file.ts';
import { checkNoExtraWeights, unusedWeightNames } from '../../src/nn/extra-weights.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { runCli } from '../helpers/cli.ts';
import { f32, mulberry32, randn } from '../helpers/oracle.ts';
import { exampleSweep, tempDir } from '../sweep/helpers.ts';

const MODEL = {
  input_shape: [4],
  layers: [{ type: 'Linear', in_features: 4, out_features: 3 }, { type: 'BatchNorm1d', num_features: 3 }, { type: 'ReLU' }, { type: 'Linear', in_features: 3, out_features: 2 }],
  loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
};
const spec = parseModelSpec(MODEL);
const rng = mulberry32(11);
const WEIGHTS = new Map<string, HostTensor>([
  ['0.weight', f32([3, 4], randn(rng, 12))], ['0.bias', f32([3], randn(rng, 3))],
  ['1.weight', f32([3], randn(rng, 3))], ['1.bias', f32([3], randn(rng, 3))],
  ['1.running_mean', f32([3], randn(rng, 3))], ['1.running_var', f32([3], Float32Array.of(1, 2, 0.5))],
  ['3.weight', f32([2, 3], randn(rng, 6))], ['3.bias', f32([2], randn(rng, 2))],
]);
const extra = f32([2], Float32Array.of(1, 2));

let dir: string;
const file = (name: string) => path.join(dir, name);
const run = (weights: string, out: string, extraArgs: string[] = []) =>
  runCli(['run', '--model', file('model.json'), '--weights', file(weights), '--inputs', file('x.npy'), '--targets', file('y.npy'), '--extensions', 'BatchGrad,Variance', '--workers', '0', '--out', file(out), '--quiet', ...extraArgs]);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'bp-extra-weights-'));
  writeFileSync(file('model.json'), JSON.stringify(MODEL));
  await writeSafetensorsFile(file('w.safetensors'), WEIGHTS);
  await writeSafetensorsFile(file('w-extra.safetensors'), new Map([...WEIGHTS, ['4.weight', extra], ['encoder.bias', extra]]));
  // torch's state_dict of this model: num_batches_tracked beside BatchNorm's statistics.
  await writeSafetensorsFile(file('w-torch.safetensors'), new Map([...WEIGHTS, ['1.num_batches_tracked', { dtype: 'int64', shape: [], data: BigInt64Array.of(7n) }]]));
  await writeNpyFile(file('x.npy'), f32([6, 4], randn(rng, 24)));
  await writeNpyFile(file('y.npy'), { dtype: 'int64', shape: [6], data: BigInt64Array.of(0n, 1n, 1n, 0n, 1n, 0n) });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('unused tensors in the weights', () => {
  it('are listed in file order; BatchNorm num_batches_tracked is not one, on another layer it is', () => {
    expect(unusedWeightNames(spec, [...WEIGHTS.keys()])).toEqual([]);
    expect(unusedWeightNames(spec, ['0.weight', 'x.y', '1.num_batches_tracked', '0.num_batches_tracked', '3.bias'])).toEqual(['x.y', '0.num_batches_tracked']);
    expect(() => checkNoExtraWeights(spec, ['0.weight', 'x.y'], 'w.safetensors', false, '--allow-extra-weights')).toThrow(WeightsError);
    expect(() => checkNoExtraWeights(spec, ['0.weight', 'x.y'], 'w.safetensors', true, '--allow-extra-weights')).not.toThrow();
  });

  it('run: exit 3 with a WeightsError listing them, and no output left behind', async () => {
    const r = await run('w-extra.safetensors', 'out-refused');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error \[E_WEIGHTS\] WeightsError: .*w-extra\.safetensors: 2 tensors the model does not use: '4\.weight', 'encoder\.bias'\. .*\(--allow-extra-weights accepts them\)\n$/);
    expect(existsSync(file('out-refused'))).toBe(false);
  });

  it('run --allow-extra-weights: the results of the file without them, bitwise', async () => {
    expect((await run('w.safetensors', 'out-clean')).code).toBe(0);
    const r = await run('w-extra.safetensors', 'out-allowed', ['--allow-extra-weights']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file('out-allowed/results.safetensors'))).toEqual(readFileSync(file('out-clean/results.safetensors')));
  });

  it("run: a torch state_dict with BatchNorm's num_batches_tracked is accepted as is", async () => {
    const r = await run('w-torch.safetensors', 'out-torch');
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file('out-torch/results.safetensors'))).toEqual(readFileSync(file('out-clean/results.safetensors')));
  });
});

describe('sweep checkpoints', () => {
  it('a checkpoint with unused tensors fails before any unit runs; options.allowExtraWeights runs the sweep', async () => {
    const t = tempDir('bp-extra-sweep-');
    try {
      const sweep = await exampleSweep(t.dir, { batchSizes: [40], quantities: ['Variance'], options: { workers: 0, out: 'refused' } }, 40);
      const s = JSON.parse(readFileSync(sweep, 'utf8')) as { checkpoints: (string | { path: string })[] };
      const first = path.resolve(path.dirname(sweep), typeof s.checkpoints[0] === 'string' ? s.checkpoints[0] : s.checkpoints[0].path);
      await writeSafetensorsFile(first, new Map([...(await readTensorMap(first)), ['stale.weight', extra]]));
      const refused = await runCli(['sweep', sweep, '--quiet']);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(/WeightsError: .*1 tensor the model does not use: 'stale\.weight'\. .*\(options\.allowExtraWeights accepts them\)/);
      expect(existsSync(path.join(path.dirname(sweep), 'refused', 'units'))).toBe(false);
      const allowed = JSON.parse(readFileSync(sweep, 'utf8')) as { options: Record<string, unknown> };
      writeFileSync(sweep, JSON.stringify({ ...allowed, options: { ...allowed.options, allowExtraWeights: true, out: 'allowed' } }));
      const ok = await runCli(['sweep', sweep, '--quiet']);
      expect(ok.code, ok.stderr).toBe(0);
      expect(readFileSync(path.join(path.dirname(sweep), 'allowed', 'rows.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThan(0);
    } finally {
      t.cleanup();
    }
  }, 120_000);
});
