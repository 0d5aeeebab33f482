/**
 * The two examples `run --help` shows are commands that work: each is run as printed (file names
 * mapped to generated files of the bundled MLP) and checked: the first's per-sample gradients and
 * variance against tfjs autodiff, the second's accumulated DiagGGNExact over mini-batches of 64
 * against the same quantity computed on the whole dataset as one batch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { RUN_EXAMPLES } from '../../src/cli/main.ts';
import { blobs, initWeights } from '../../src/data/synthetic.ts';
import { readTensorMap, writeNpyFile, writeSafetensorsFile } from '../../src/io/tensor-file.ts';
import { buildNetwork, disposeNetwork } from '../../src/nn/network.ts';
import { readModelSpec } from '../../src/nn/parse-spec.ts';
import { runCli } from '../helpers/cli.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { autodiffPerSample, expectedQuantities, values } from '../helpers/oracle.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const N = 128;
let dir: string;
const expected = new Map<string, Float64Array>();

/** The example command lines of the help text, continuation lines joined, split into arguments. */
function examples(): string[][] {
  const text = RUN_EXAMPLES.replace(/\\\n\s*/g, '');
  return text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('backpack-ts run ')).map((l) => l.split(/\s+/).slice(2));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'bp-run-examples-'));
  await useBackend('cpu');
  const spec = await readModelSpec(path.join(ROOT, 'examples/mlp/model.json'));
  const weights = initWeights(spec, 1);
  const { inputs, targets } = blobs(spec, N, 10, 2);
  await writeSafetensorsFile(path.join(dir, 'weights.safetensors'), weights);
  await writeNpyFile(path.join(dir, 'inputs.npy'), inputs);
  await writeNpyFile(path.join(dir, 'targets.npy'), targets);
  const net = buildNetwork(spec, weights);
  const { grads } = autodiffPerSample(net, inputs, targets);
  for (const name of net.paramNames) {
    const e = expectedQuantities(grads.get(name)!);
    expected.set(`${name}.grad_batch`, e.gradBatch);
    expected.set(`${name}.variance`, e.variance);
  }
  const whole = runBatch(net, inputs, targets, { extensions: ['DiagGGNExact'] });
  for (const name of net.paramNames) expected.set(`${name}.diag_ggn_exact`, values(whole.results.get(`${name}.diag_ggn_exact`)));
  disposeNetwork(net);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An example's arguments with its file names pointing into the test's directory. */
const mapped = (args: string[]) =>
  args.map((a, i) => (args[i - 1] === '--model' ? path.join(ROOT, 'examples/mlp/model.json') : /\.(npy|safetensors)$/.test(a) || args[i - 1] === '--out' ? path.join(dir, a) : a));

describe('run --help', () => {
  it('shows two examples', () => {
    expect(examples()).toHaveLength(2);
  });

  it('example 1 (BatchGrad, Variance on one batch) runs and equals tfjs autodiff', async () => {
    const args = mapped(examples()[0]);
    const r = await runCli(['run', ...args, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const results = await readTensorMap(path.join(dir, 'out/batch/results.safetensors'));
    for (const key of [...expected.keys()].filter((k) => !k.endsWith('diag_ggn_exact'))) {
      expectClose(values(results.get(key)), expected.get(key)!, { rtol: key.endsWith('variance') ? 1e-3 : 1e-4, label: key });
    }
  }, 120_000);

  it('example 2 (DiagGGNExact accumulated over mini-batches, worker processes) equals one batch of all samples', async () => {
    const args = mapped(examples()[1]);
    expect(args).toContain('--accumulate');
    const r = await runCli(['run', ...args, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const results = await readTensorMap(path.join(dir, 'out/dataset/results.safetensors'));
    for (const key of [...expected.keys()].filter((k) => k.endsWith('diag_ggn_exact'))) expectClose(values(results.get(key)), expected.get(key)!, { rtol: 1e-4, label: key });
  }, 120_000);
});
