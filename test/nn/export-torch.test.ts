/**
 * scripts/export_torch.py without PyTorch: its --self-test checks the spec mapping, the refusals and
 * its safetensors writer with fake modules; here its export is read back by our own loaders and
 * run, in float32 and float64.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { readTensorMap } from '../../src/io/tensor-file.ts';
import { buildNetwork, disposeNetwork } from '../../src/nn/network.ts';
import { readModelSpec } from '../../src/nn/parse-spec.ts';
import type { SequentialSpec } from '../../src/nn/spec.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { f32, mulberry32, randn } from '../helpers/oracle.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/export_torch.py', import.meta.url));
const hasPython = spawnSync('python3', ['--version']).status === 0;

/** The script's fake_value: round(sin(7·seed + 0.37·j), 6), and 1 + |that| for running_var. */
const fakeValue = (seed: number, j: number, positive = false) => {
  const v = Math.round(Math.sin(seed * 7 + j * 0.37) * 1e6) / 1e6;
  return positive ? 1 + Math.abs(v) : v;
};
const SEEDS: Record<string, [number, boolean?]> = {
  '0.weight': [1], '0.bias': [2], '1.weight': [3], '1.bias': [4], '1.running_mean': [5], '1.running_var': [8, true], '8.weight': [6], '8.bias': [7],
};

describe.skipIf(!hasPython)('scripts/export_torch.py (no PyTorch needed)', () => {
  let dir: string;
  let stdout = '';
  let stderr = '';
  let status: number | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bp-export-torch-'));
    const r = spawnSync('python3', [SCRIPT, '--self-test', dir], { encoding: 'utf8' });
    ({ stdout, stderr, status } = r);
    await useBackend('cpu');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes its self-test (spec mapping, refusals, safetensors writer)', () => {
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/self-test ok/);
  });

  it.each([['f32', 'float32'], ['f64', 'float64']] as const)('its %s export loads and runs in backpack-ts', async (sub, dtype) => {
    const spec = (await readModelSpec(path.join(dir, sub, 'model.json'))) as SequentialSpec;
    expect(spec.layers.map((l) => l.type)).toEqual(['Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d', 'AvgPool2d', 'Flatten', 'Dropout', 'LeakyReLU', 'Linear']);
    expect(spec.loss).toEqual({ type: 'CrossEntropyLoss', reduction: 'sum' });
    const weights = await readTensorMap(path.join(dir, sub, 'weights.safetensors'));
    expect([...weights.keys()].sort()).toEqual(Object.keys(SEEDS).sort());
    for (const [key, [seed, positive]] of Object.entries(SEEDS)) {
      const t = weights.get(key)!;
      expect(t.dtype).toBe(dtype);
      const want = Float64Array.from({ length: t.data.length }, (_, j) => fakeValue(seed, j, positive));
      expectClose(t.data as ArrayLike<number>, want, { rtol: dtype === 'float64' ? 0 : 1e-7, label: key });
    }
    const net = buildNetwork(spec, weights);
    const rng = mulberry32(3);
    const inputs = f32([5, 1, 4, 4], randn(rng, 80));
    const targets = { dtype: 'int32' as const, shape: [5], data: Int32Array.from([0, 1, 2, 1, 0]) };
    const r = runBatch(net, inputs, targets, { extensions: ['BatchGrad'] });
    disposeNetwork(net);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.results.get('8.weight.grad_batch')!.shape).toEqual([5, 3, 8]);
  });
});
