/**
 * Every malformed input ends in a typed error with a clear message and a non-zero exit code.
 * Each case starts from a valid job (a fixture) and breaks one thing.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors/index.ts';
import { encodeNpy } from '../../src/io/npy.ts';
import { encodeSafetensors, parseSafetensors } from '../../src/io/safetensors.ts';
import { runCli } from '../helpers/cli.ts';
import { FIXTURE_ROOT } from '../helpers/fixtures.ts';

const CASE = path.join(FIXTURE_ROOT, 'cnn_relu_maxpool_ce_sum');
let dir: string;

const file = (name: string) => path.join(dir, name);
const job = (over: Record<string, string> = {}) => {
  const opts: Record<string, string> = {
    '--model': file('model.json'), '--weights': file('weights.safetensors'), '--inputs': file('inputs.npy'),
    '--targets': file('targets.npy'), '--out': file('out'), '--extensions': 'BatchGrad', ...over,
  };
  return ['run', ...Object.entries(opts).flat(), '--quiet'];
};
const model = () => JSON.parse(readFileSync(path.join(CASE, 'model.json'), 'utf8'));

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bp-bad-'));
  for (const f of ['model.json', 'weights.safetensors', 'inputs.npy', 'targets.npy']) copyFileSync(path.join(CASE, f), file(f));
});

async function expectFailure(args: string[], code: string, fragment: RegExp): Promise<void> {
  const r = await runCli(args);
  expect(r.code).not.toBe(0);
  expect(r.code).toBe(EXIT_CODES[code as keyof typeof EXIT_CODES]);
  expect(r.stderr).toContain(`[${code}]`);
  expect(r.stderr).toMatch(fragment);
}

describe('malformed inputs give typed errors and non-zero exit codes', () => {
  it('the valid job succeeds (control)', async () => {
    expect((await runCli(job())).code).toBe(0);
  });

  it('model.json that is not JSON', async () => {
    writeFileSync(file('bad.json'), '{"input_shape": [2, 6, 6], "layers": [');
    await expectFailure(job({ '--model': file('bad.json') }), 'E_MODEL_SPEC', /not valid JSON/);
  });

  it('an unknown layer type names the supported ones', async () => {
    const m = model();
    m.layers[1].type = 'Swish';
    writeFileSync(file('unknown.json'), JSON.stringify(m));
    await expectFailure(job({ '--model': file('unknown.json') }), 'E_MODEL_SPEC', /layers\[1\]\.type: unknown layer type "Swish"; supported: Linear, Conv1d/);
  });

  it('a misspelt attribute is rejected, not ignored', async () => {
    const m = model();
    m.layers[0].kernal_size = 3;
    writeFileSync(file('typo.json'), JSON.stringify(m));
    await expectFailure(job({ '--model': file('typo.json') }), 'E_MODEL_SPEC', /kernal_size/);
  });

  it('a shape mismatch between layers names both shapes', async () => {
    const m = model();
    m.layers[4].in_features = 32;
    writeFileSync(file('mismatch.json'), JSON.stringify(m));
    await expectFailure(job({ '--model': file('mismatch.json') }), 'E_SHAPE', /layers\[4\] \(Linear\): Linear expects in_features=32 on the last axis, got input \[N, 27\]/);
  });

  it('a parameter missing from the weights file', async () => {
    const { tensors } = parseSafetensors(readFileSync(file('weights.safetensors')), 'w');
    tensors.delete('4.bias');
    writeFileSync(file('missing.safetensors'), encodeSafetensors(tensors));
    await expectFailure(job({ '--weights': file('missing.safetensors') }), 'E_WEIGHTS', /'4\.bias' is missing/);
  });

  it('a parameter of the wrong shape', async () => {
    const { tensors } = parseSafetensors(readFileSync(file('weights.safetensors')), 'w');
    tensors.set('0.weight', { dtype: 'float64', shape: [3, 2, 9], data: tensors.get('0.weight')!.data });
    writeFileSync(file('wrongshape.safetensors'), encodeSafetensors(tensors));
    await expectFailure(job({ '--weights': file('wrongshape.safetensors') }), 'E_WEIGHTS', /'0\.weight' has shape \[3, 2, 9\], the model spec needs \[3, 2, 3, 3\]/);
  });

  it('a label out of range', async () => {
    writeFileSync(file('labels.npy'), encodeNpy({ dtype: 'int64', shape: [8], data: BigInt64Array.from([0, 1, 2, 3, 4, 0, 1, 2].map(BigInt)) }));
    await expectFailure(job({ '--targets': file('labels.npy') }), 'E_LABEL_RANGE', /label 4 of sample 4 is outside \[0, 4\)/);
  });

  it('a negative label', async () => {
    writeFileSync(file('neg.npy'), encodeNpy({ dtype: 'int32', shape: [8], data: Int32Array.from([0, 1, 2, -1, 0, 0, 1, 2]) }));
    await expectFailure(job({ '--targets': file('neg.npy') }), 'E_LABEL_RANGE', /label -1 of sample 3/);
  });

  it('NaN in the inputs names the sample', async () => {
    const x = new Float32Array(8 * 72).fill(0.5);
    x[5 * 72 + 7] = NaN;
    writeFileSync(file('nan.npy'), encodeNpy({ dtype: 'float32', shape: [8, 2, 6, 6], data: x }));
    await expectFailure(job({ '--inputs': file('nan.npy') }), 'E_NON_FINITE', /sample 5 holds a non-finite value \(NaN\)/);
  });

  it('inputs of the wrong shape', async () => {
    writeFileSync(file('shape.npy'), encodeNpy({ dtype: 'float32', shape: [8, 2, 5, 6], data: new Float32Array(8 * 60) }));
    await expectFailure(job({ '--inputs': file('shape.npy') }), 'E_SHAPE', /\[8, 2, 5, 6\] does not match the model's input_shape \[2, 6, 6\]/);
  });

  it('a truncated .npy', async () => {
    const bytes = readFileSync(file('inputs.npy'));
    writeFileSync(file('trunc.npy'), bytes.subarray(0, bytes.length - 100));
    await expectFailure(job({ '--inputs': file('trunc.npy') }), 'E_TENSOR_FILE', /trunc\.npy: truncated/);
  });

  it('a truncated .safetensors', async () => {
    const bytes = readFileSync(file('weights.safetensors'));
    writeFileSync(file('trunc.safetensors'), bytes.subarray(0, bytes.length - 64));
    await expectFailure(job({ '--weights': file('trunc.safetensors') }), 'E_TENSOR_FILE', /trunc\.safetensors: .*out of range/);
  });

  it('a missing file', async () => {
    await expectFailure(job({ '--inputs': file('nope.npy') }), 'E_TENSOR_FILE', /nope\.npy: file not found/);
  });

  it('targets of another batch size (bad input: exit 3)', async () => {
    writeFileSync(file('short.npy'), encodeNpy({ dtype: 'int64', shape: [5], data: new BigInt64Array(5) }));
    await expectFailure(job({ '--targets': file('short.npy') }), 'E_SHAPE', /8 samples but targets have 5/);
  });

  it('an unknown extension lists the valid ones', async () => {
    await expectFailure(job({ '--extensions': 'BatchGrad,Hessian' }), 'E_UNKNOWN_EXTENSION', /unknown extension 'Hessian'; valid extensions: BatchGrad/);
  });

  it('a bad option value names the option', async () => {
    await expectFailure([...job(), '--shard-size', '0'], 'E_USAGE', /--shard-size must be a positive integer, got '0'/);
  });

  it('a subsampling index outside the batch', async () => {
    await expectFailure([...job(), '--subsampling', '1,8'], 'E_USAGE', /subsampling index 8 is outside \[0, 8\)/);
  });

  it('BatchNorm in train mode explains why it is refused', async () => {
    writeFileSync(file('bn.json'), JSON.stringify({
      input_shape: [2, 6, 6],
      layers: [{ type: 'BatchNorm2d', num_features: 2, train: true }, { type: 'Flatten' }, { type: 'Linear', in_features: 72, out_features: 4 }],
      loss: { type: 'CrossEntropyLoss', reduction: 'sum' },
    }));
    await expectFailure(job({ '--model': file('bn.json') }), 'E_TRAIN_MODE', /couples the samples/);
  });

  it('an unavailable backend says what to install', async () => {
    await expectFailure(job({ '--backend': 'tensorflow' }), 'E_BACKEND_UNAVAILABLE', /@tensorflow\/tfjs-node/);
  });
});
