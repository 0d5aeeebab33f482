/**
 * Importing tfjs-layers models: the imported network computes what tfjs computes (outputs, loss,
 * gradients mapped to our layouts), on every backend; the CLI's model.json gives the same results
 * as the in-memory import; malformed models fail with typed errors.
 *
 * tfjs is the oracle here: its predict() and tf.variableGrads of its own loss (on its own outputs:
 * probabilities where the model ends in softmax/sigmoid), on the cpu backend, with our inputs the
 * NHWC → NCHW transposes of tfjs's for channels-last models. Two cases cannot use tfjs's gradients
 * (dilated convs, where tfjs has none) or forward (channels_first BatchNorm, where tfjs's cpu
 * kernel is wrong); each says so.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { disposeShardState, forwardShard } from '../../src/core/forward.ts';
import { BackpackError, ModelSpecError, WeightsError } from '../../src/errors/index.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { readTensorMap, writeNpyFile } from '../../src/io/tensor-file.ts';
import { convertTfjsLayers, importTfjsLayersModel, readTfjsArtifacts, type ImportedModel } from '../../src/nn/import/tfjs-layers.ts';
import { buildNetwork, disposeNetwork } from '../../src/nn/network.ts';
import type { SequentialSpec } from '../../src/nn/spec.ts';
import type { LossKind, Reduction } from '../../src/vocabulary.ts';
import { runCli } from '../helpers/cli.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { mulberry32, randn, uniform } from '../helpers/oracle.ts';
import { saveTfjsModel, seedWeights } from './tfjs-models.ts';

interface Case {
  name: string;
  build: () => tf.LayersModel;
  loss: { type: LossKind; reduction: Reduction };
  /** Samples are images in channels-last layout: ours are their NCHW transposes. */
  channelsLast: boolean;
  /** Layer types the imported spec must contain (checks the mapping, not just the numbers). */
  expectLayers: string[];
  shards?: number;
  /** Why tfjs cannot give gradients for this model (outputs and loss are still compared). */
  noTfjsGradients?: string;
  /** The oracle's forward where tfjs's own is wrong (default: the model applied in inference mode). */
  oracle?: (model: tf.LayersModel, x: tf.Tensor) => tf.Tensor;
}

const L = tf.layers;

const CASES: Case[] = [
  {
    name: 'MLP: Dense activations, BatchNormalization, Dropout, Activation layers, softmax output',
    build: () => tf.sequential({ layers: [
      L.dense({ inputShape: [5], units: 6, activation: 'relu' }),
      L.batchNormalization({ epsilon: 0.01 }),
      L.dropout({ rate: 0.3 }),
      L.dense({ units: 6, activation: 'tanh' }),
      L.activation({ activation: 'sigmoid' }),
      L.dense({ units: 5, activation: 'elu', useBias: false }),
      L.activation({ activation: 'selu' }),
      L.dense({ units: 4, activation: 'softmax' }),
    ] }),
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
    channelsLast: false,
    expectLayers: ['Linear', 'ReLU', 'BatchNorm1d', 'Dropout', 'Linear', 'Tanh', 'Sigmoid', 'Linear', 'ELU', 'SELU', 'Linear'],
    shards: 2,
  },
  {
    name: "CNN: stride-2 'same' conv (asymmetric → ZeroPad2d), stride-1 even-kernel 'same', BatchNorm2d, MaxPool, Flatten → Dense rows permuted",
    build: () => tf.sequential({ layers: [
      L.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      L.batchNormalization({}),
      L.conv2d({ filters: 3, kernelSize: 2, padding: 'same', useBias: false }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dropout({ rate: 0.5 }),
      L.dense({ units: 5, activation: 'softmax' }),
    ] }),
    loss: { type: 'CrossEntropyLoss', reduction: 'sum' },
    channelsLast: true,
    expectLayers: ['ZeroPad2d', 'Conv2d', 'ReLU', 'BatchNorm2d', 'Conv2d', 'MaxPool2d', 'Flatten', 'Dropout', 'Linear'],
    shards: 3,
  },
  {
    name: "CNN: symmetric 'same' max pool, ZeroPadding2D, LeakyReLU, GlobalAveragePooling2D, MSE",
    build: () => tf.sequential({ layers: [
      L.conv2d({ inputShape: [10, 9, 3], filters: 4, kernelSize: [3, 2], activation: 'tanh' }),
      L.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
      L.zeroPadding2d({ padding: [[1, 0], [0, 2]] }),
      L.leakyReLU({ alpha: 0.2 }),
      L.conv2d({ filters: 2, kernelSize: 2, strides: [2, 1] }),
      L.globalAveragePooling2d({}),
      L.dense({ units: 3 }),
    ] }),
    loss: { type: 'MSELoss', reduction: 'mean' },
    channelsLast: true,
    expectLayers: ['Conv2d', 'Tanh', 'MaxPool2d', 'ZeroPad2d', 'LeakyReLU', 'Conv2d', 'AdaptiveAvgPool2d', 'Flatten', 'Linear'],
  },
  {
    name: "dilated conv, 'same' at stride 1 with an odd kernel (symmetric padding), symmetric 'same' average pool",
    build: () => tf.sequential({ layers: [
      L.conv2d({ inputShape: [7, 8, 2], filters: 3, kernelSize: 3, dilationRate: [2, 1], padding: 'same' }),
      L.conv2d({ filters: 2, kernelSize: [2, 3], dilationRate: 2 }),
      L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
      L.flatten(),
      L.dense({ units: 3, activation: 'softmax' }),
    ] }),
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
    channelsLast: true,
    expectLayers: ['Conv2d', 'Conv2d', 'AvgPool2d', 'Flatten', 'Linear'],
    // NOTE: tfjs's AvgPool gradient is also wrong for 'same' padding: it spreads over the full
    // window, while its forward (and ours, count_include_pad=false) averages the real cells only.
    noTfjsGradients: "tfjs's conv2d has no gradient for dilation > 1",
  },
  {
    name: "Flatten(data_format='channels_first') of channels-last data, then BatchNorm1d (permuted) and Dense",
    build: () => tf.sequential({ layers: [
      L.conv2d({ inputShape: [5, 4, 2], filters: 3, kernelSize: 2, activation: 'elu' }),
      L.flatten({ dataFormat: 'channelsFirst' }),
      L.batchNormalization({}),
      L.dense({ units: 4, activation: 'softmax' }),
    ] }),
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
    channelsLast: true,
    expectLayers: ['Conv2d', 'ELU', 'Flatten', 'BatchNorm1d', 'Linear'],
  },
  {
    name: 'channels_first conv and pool: no transposes needed',
    build: () => tf.sequential({ layers: [
      L.conv2d({ inputShape: [2, 6, 6], filters: 3, kernelSize: 3, dataFormat: 'channelsFirst', activation: 'relu' }),
      L.averagePooling2d({ poolSize: 2, dataFormat: 'channelsFirst' }),
      L.flatten(),
      L.dense({ units: 3, activation: 'softmax' }),
    ] }),
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
    channelsLast: false,
    expectLayers: ['Conv2d', 'ReLU', 'AvgPool2d', 'Flatten', 'Linear'],
  },
  {
    name: 'channels_first BatchNormalization(axis=1)',
    build: () => tf.sequential({ layers: [
      L.conv2d({ inputShape: [2, 5, 5], filters: 3, kernelSize: 2, dataFormat: 'channelsFirst' }),
      L.batchNormalization({ axis: 1 }),
      L.flatten(),
      L.dense({ units: 3, activation: 'softmax' }),
    ] }),
    loss: { type: 'CrossEntropyLoss', reduction: 'sum' },
    channelsLast: false,
    expectLayers: ['Conv2d', 'BatchNorm2d', 'Flatten', 'Linear'],
    // NOTE: tfjs's cpu FusedBatchNorm cycles mean/variance along the *last* axis whatever the
    // layer's axis, so its predict() is wrong for axis=1 (and its gradient throws). The oracle
    // applies Keras's definition with broadcasting ops on the layer's own variables.
    oracle: (model, x) => {
      const [conv, bn, ...rest] = model.layers;
      const v = bn as unknown as Record<'gamma' | 'beta' | 'movingMean' | 'movingVariance', { read(): tf.Tensor }>;
      const c = (t: tf.Tensor) => t.reshape([1, -1, 1, 1]);
      let h = (conv.apply(x) as tf.Tensor).sub(c(v.movingMean.read())).div(c(v.movingVariance.read()).add(1e-3).sqrt()).mul(c(v.gamma.read())).add(c(v.beta.read()));
      for (const layer of rest) h = layer.apply(h) as tf.Tensor;
      return h;
    },
  },
  {
    name: 'functional Model (a linear chain from an InputLayer)',
    build: () => {
      const input = tf.input({ shape: [6, 6, 1] });
      let h = L.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' }).apply(input) as tf.SymbolicTensor;
      h = L.reLU().apply(h) as tf.SymbolicTensor;
      h = L.flatten().apply(h) as tf.SymbolicTensor;
      h = L.dense({ units: 3 }).apply(h) as tf.SymbolicTensor;
      h = L.softmax().apply(h) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: h });
    },
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
    channelsLast: true,
    expectLayers: ['ZeroPad2d', 'Conv2d', 'ReLU', 'Flatten', 'Linear'],
  },
  {
    name: 'sigmoid output with BCEWithLogitsLoss (the sigmoid is dropped)',
    build: () => tf.sequential({ layers: [
      L.dense({ inputShape: [4], units: 5, activation: 'relu' }),
      L.dense({ units: 2, activation: 'sigmoid' }),
    ] }),
    loss: { type: 'BCEWithLogitsLoss', reduction: 'mean' },
    channelsLast: false,
    expectLayers: ['Linear', 'ReLU', 'Linear'],
  },
];

const N = 6;

interface Reference {
  imported: ImportedModel;
  modelJson: string;
  /** Inputs in our layout, and targets. */
  inputs: HostTensor;
  targets: HostTensor;
  /** tfjs's predict() (probabilities for softmax/sigmoid outputs), its loss and its gradients in our layouts. */
  predicted: Float32Array;
  loss: number;
  grads: Map<string, HostTensor>;
}

/** tfjs's loss on its own outputs (probabilities where the model ends in softmax or sigmoid). */
function tfjsLoss(out: tf.Tensor, c: Case, targets: HostTensor): tf.Scalar {
  let per: tf.Tensor;
  if (c.loss.type === 'CrossEntropyLoss') {
    per = tf.oneHot(tf.tensor1d(targets.data as Int32Array, 'int32'), out.shape[1]!).mul(tf.log(out)).sum(-1).neg();
  } else {
    const t = tf.tensor(targets.data as Float32Array, out.shape);
    per = c.loss.type === 'MSELoss' ? tf.squaredDifference(out, t)
      : t.mul(tf.log(out)).add(tf.scalar(1).sub(t).mul(tf.log(tf.scalar(1).sub(out)))).neg();
  }
  return (c.loss.reduction === 'mean' ? per.mean() : per.sum()) as tf.Scalar;
}

const hostOf = (t: tf.Tensor): HostTensor => ({ dtype: 'float32', shape: [...t.shape], data: Float32Array.from(t.dataSync()) });

async function reference(c: Case, dir: string, seed: number): Promise<Reference> {
  const rng = mulberry32(seed);
  const model = c.build();
  seedWeights(model, rng);
  const modelJson = await saveTfjsModel(model, dir, c.shards);
  const imported = await importTfjsLayersModel(modelJson, { loss: c.loss });
  const tfShape = [N, ...(model.inputs[0].shape.slice(1) as number[])];
  const x = tf.tensor(randn(rng, tfShape.reduce((a, b) => a * b, 1)), tfShape);
  const inputs = hostOf(c.channelsLast ? x.transpose([0, 3, 1, 2]) : x);
  const outShape = model.outputs[0].shape.slice(1) as number[];
  const targets: HostTensor = c.loss.type === 'CrossEntropyLoss'
    ? { dtype: 'int32', shape: [N], data: Int32Array.from({ length: N }, () => Math.floor(rng() * outShape[0])) }
    : { dtype: 'float32', shape: [N, ...outShape], data: c.loss.type === 'MSELoss' ? randn(rng, N * outShape[0]) : uniform(rng, N * outShape[0]) };
  const forward = () => (c.oracle ? c.oracle(model, x) : (model.apply(x, { training: false }) as tf.Tensor));
  const predicted = Float32Array.from((c.oracle ? forward() : (model.predict(x) as tf.Tensor)).dataSync());
  const trainable = new Set(model.trainableWeights.map((w) => w.name));
  const objective = () => tfjsLoss(forward(), c, targets);
  if (c.noTfjsGradients) return { imported, modelJson, inputs, targets, predicted, loss: objective().dataSync()[0], grads: new Map() };
  const { value, grads } = tf.variableGrads(objective);
  // Gradients go through the importer's own layout conversion (a linear map: transposes and
  // permutations); non-trainable weights (moving statistics) are passed as they are.
  const gradSource = new Map<string, HostTensor>(model.weights.map((w) => [w.originalName, hostOf(trainable.has(w.name) ? grads[w.name] : w.read())]));
  const { topology } = await readTfjsArtifacts(modelJson);
  const mapped = convertTfjsLayers(topology, gradSource, { loss: c.loss });
  return { imported, modelJson, inputs, targets, predicted, loss: value.dataSync()[0], grads: mapped.weights };
}

const softmaxRows = (logits: Float32Array, C: number) => {
  const out = new Float64Array(logits.length);
  for (let n = 0; n < logits.length / C; n++) {
    const row = logits.subarray(n * C, (n + 1) * C);
    const m = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, j) => (out[n * C + j] = v / s));
  }
  return out;
};

let root: string;
const refs = new Map<string, Reference>();

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bp-tfjs-import-'));
  await useBackend('cpu');
  for (const [i, c] of CASES.entries()) refs.set(c.name, await reference(c, path.join(root, `case${i}`), 100 + i));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the imported spec maps tfjs layers to ours', () => {
  it.each(CASES)('$name', (c) => {
    const { imported } = refs.get(c.name)!;
    expect((imported.spec as SequentialSpec).layers.map((l) => l.type)).toEqual(c.expectLayers);
  });

  it('notes what the import changed', () => {
    expect(refs.get(CASES[0].name)!.imported.notes.join('\n')).toMatch(/final softmax is dropped/);
    expect(refs.get(CASES[1].name)!.imported.notes.join('\n')).toMatch(/ZeroPad2d \[left, right, top, bottom\] = \[0,1, 0,1\]/);
    expect(refs.get(CASES.at(-1)!.name)!.imported.notes.join('\n')).toMatch(/final sigmoid is dropped/);
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`imported networks compute what tfjs computes (${backend})`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it.each(CASES)('$name', (c) => {
      const ref = refs.get(c.name)!;
      const net = buildNetwork(ref.imported.spec, ref.imported.weights);
      try {
        const state = forwardShard(net, { shardId: 0, inputs: ref.inputs, targets: ref.targets, offset: 0, N, extensions: [], seed: 0 });
        const logits = Float32Array.from(state.acts.at(-1)!.dataSync());
        disposeShardState(state);
        const C = net.outputShape[0];
        const probs = c.loss.type === 'CrossEntropyLoss' ? softmaxRows(logits, C)
          : c.loss.type === 'BCEWithLogitsLoss' ? logits.map((v) => 1 / (1 + Math.exp(-v))) : logits;
        expectClose(probs, ref.predicted, { rtol: 1e-4, label: 'outputs' });

        const r = runBatch(net, ref.inputs, ref.targets, { extensions: ['BatchGrad'], shardSize: 4 });
        expectClose([r.loss], [ref.loss], { rtol: 1e-4, label: 'loss' });
        expect(net.paramNames.length).toBeGreaterThan(0);
        if (c.noTfjsGradients) return;
        for (const p of net.paramNames) {
          expectClose(r.results.get(`${p}.grad`)!.data as Float32Array, ref.grads.get(p)!.data as Float32Array, { rtol: 1e-4, label: `${p}.grad` });
        }
      } finally {
        disposeNetwork(net);
      }
    });
  });
}

describe('import-tfjs on the command line', () => {
  it("a saved tfjs model's results equal the same model written as model.json", async () => {
    await useBackend('cpu');
    const c = CASES[1];
    const ref = refs.get(c.name)!;
    const dir = path.join(root, 'cli');
    const imp = await runCli(['import-tfjs', ref.modelJson, '--out', dir, '--loss', c.loss.type, '--reduction', c.loss.reduction, '--quiet']);
    expect(imp.stderr).toMatch(/warning: .*final softmax is dropped/);
    expect(imp.code).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'))).toEqual(ref.imported.spec);

    await writeNpyFile(path.join(dir, 'inputs.npy'), ref.inputs);
    await writeNpyFile(path.join(dir, 'targets.npy'), ref.targets);
    const extensions = ['BatchGrad', 'Variance', 'DiagGGNExact'] as const;
    const run = await runCli([
      'run', '--model', path.join(dir, 'model.json'), '--weights', path.join(dir, 'weights.safetensors'),
      '--inputs', path.join(dir, 'inputs.npy'), '--targets', path.join(dir, 'targets.npy'),
      '--extensions', extensions.join(','), '--out', path.join(dir, 'out'), '--workers', '0', '--backend', 'cpu', '--quiet',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const fromCli = await readTensorMap(path.join(dir, 'out', 'results.safetensors'));

    const net = buildNetwork(ref.imported.spec, ref.imported.weights);
    const inMemory = runBatch(net, ref.inputs, ref.targets, { extensions: [...extensions] });
    disposeNetwork(net);
    expect([...fromCli.keys()].sort()).toEqual([...inMemory.results.keys()].sort());
    for (const [key, t] of inMemory.results) expectClose(fromCli.get(key)!.data as Float32Array, t.data as Float32Array, { rtol: 1e-6, label: key });
    const summary = JSON.parse(readFileSync(path.join(dir, 'out', 'summary.json'), 'utf8'));
    expect(summary.loss).toBeCloseTo(inMemory.loss, 5);
  });

  it('failures exit with the error code of their typed error', async () => {
    const ref = refs.get(CASES[0].name)!;
    const dir = path.join(root, 'cli-bad');
    const noShard = await copyModel(ref.modelJson, dir, (m) => {
      m.weightsManifest[0].paths[0] = 'missing.bin';
    });
    const r = await runCli(['import-tfjs', noShard, '--out', path.join(dir, 'out')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/\[E_WEIGHTS\] WeightsError: .*missing\.bin not found/);
    const badLoss = await runCli(['import-tfjs', noShard, '--out', path.join(dir, 'out'), '--loss', 'NLLLoss']);
    expect(badLoss.code).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed models.
// ---------------------------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any */
/** Copies a saved model (model.json and shards) into `dir`, editing model.json on the way. */
async function copyModel(modelJson: string, dir: string, edit: (m: any) => void): Promise<string> {
  const { mkdirSync, copyFileSync, readdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(path.dirname(modelJson))) if (f.endsWith('.bin')) copyFileSync(path.join(path.dirname(modelJson), f), path.join(dir, f));
  const m = JSON.parse(readFileSync(modelJson, 'utf8'));
  edit(m);
  const out = path.join(dir, 'model.json');
  writeFileSync(out, JSON.stringify(m));
  return out;
}

async function expectTyped(p: Promise<unknown>, cls: typeof ModelSpecError | typeof WeightsError, message: RegExp): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, 'expected a rejection').toBeInstanceOf(BackpackError);
  expect((err as Error).name).toBe(cls.name);
  expect(err).toBeInstanceOf(cls);
  expect((err as Error).message).toMatch(message);
}

async function saved(name: string, build: () => tf.LayersModel): Promise<string> {
  const model = build();
  seedWeights(model, mulberry32(7));
  return saveTfjsModel(model, path.join(root, name));
}

describe('malformed tfjs models fail with typed errors', () => {
  const mlp = () => refs.get(CASES[0].name)!.modelJson;

  it('an unknown layer class names itself and the supported ones', async () => {
    const p = await copyModel(mlp(), path.join(root, 'bad-class'), (m) => {
      m.modelTopology.config.layers[2].class_name = 'LSTM';
    });
    await expectTyped(importTfjsLayersModel(p), ModelSpecError, /layer class 'LSTM' cannot be imported; supported: InputLayer, Dense, Conv2D/);
  });

  it('non-float32 weights', async () => {
    const p = await copyModel(mlp(), path.join(root, 'bad-dtype'), (m) => {
      m.weightsManifest[0].weights[1].dtype = 'int32';
    });
    await expectTyped(importTfjsLayersModel(p), WeightsError, /dtype "int32"; only float32 weights/);
  });

  it('quantized weights', async () => {
    const p = await copyModel(mlp(), path.join(root, 'bad-quant'), (m) => {
      m.weightsManifest[0].weights[0].quantization = { dtype: 'uint8', min: -1, scale: 0.01 };
    });
    await expectTyped(importTfjsLayersModel(p), WeightsError, /quantized weights \(uint8\)/);
  });

  it('a missing shard file', async () => {
    const p = await copyModel(mlp(), path.join(root, 'bad-missing'), (m) => {
      m.weightsManifest[0].paths[1] = 'group1-shard9of9.bin';
    });
    await expectTyped(importTfjsLayersModel(p), WeightsError, /weight shard .*group1-shard9of9\.bin not found/);
  });

  it('shards shorter than the manifest says', async () => {
    const p = await copyModel(mlp(), path.join(root, 'bad-short'), (m) => {
      m.weightsManifest[0].paths.pop();
    });
    await expectTyped(importTfjsLayersModel(p), WeightsError, /needs bytes \[\d+, \d+\) but the shards .* hold \d+/);
  });

  it('a weight the manifest lacks', async () => {
    const p = await copyModel(mlp(), path.join(root, 'bad-name'), (m) => {
      m.weightsManifest[0].weights[0].name = 'something_else/kernel';
    });
    await expectTyped(importTfjsLayersModel(p), WeightsError, /no weight '.*\/kernel' in the manifest/);
  });

  it('softmax in a hidden layer', async () => {
    const p = await saved('bad-softmax', () => tf.sequential({ layers: [
      L.dense({ inputShape: [3], units: 4, activation: 'softmax' }),
      L.dense({ units: 2 }),
    ] }));
    await expectTyped(importTfjsLayersModel(p), ModelSpecError, /softmax in a hidden layer is not supported/);
  });

  it('a softmax output with a loss other than CrossEntropyLoss', async () => {
    await expectTyped(importTfjsLayersModel(mlp(), { loss: { type: 'MSELoss' } }), ModelSpecError, /softmax output imports only with CrossEntropyLoss/);
  });

  it('an unsupported activation lists the supported ones', async () => {
    const p = await saved('bad-activation', () => tf.sequential({ layers: [L.dense({ inputShape: [3], units: 2, activation: 'softplus' })] }));
    await expectTyped(importTfjsLayersModel(p), ModelSpecError, /activation "softplus" is not supported; supported: linear, relu, sigmoid, tanh, elu, selu/);
  });

  it("an asymmetric 'same' pool", async () => {
    const p = await saved('bad-pool', () => tf.sequential({ layers: [
      L.maxPooling2d({ inputShape: [6, 6, 1], poolSize: 3, strides: 2, padding: 'same' }), L.flatten(), L.dense({ units: 2 }),
    ] }));
    await expectTyped(importTfjsLayersModel(p), ModelSpecError, /padding 'same' pads \[0\/1,0\/1\].*asymmetric/);
  });

  it('a functional model that branches', async () => {
    const p = await saved('bad-branch', () => {
      const input = tf.input({ shape: [3] });
      const a = L.dense({ units: 2 }).apply(input) as tf.SymbolicTensor;
      const b = L.dense({ units: 2 }).apply(input) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: L.add().apply([a, b]) as tf.SymbolicTensor });
    });
    await expectTyped(importTfjsLayersModel(p), ModelSpecError, /has 2 inputs; only linear chains can be imported/);
  });

  it('a graph model, and a file that is not a model', async () => {
    const p = await copyModel(mlp(), path.join(root, 'bad-graph'), (m) => {
      m.format = 'graph-model';
    });
    await expectTyped(importTfjsLayersModel(p), ModelSpecError, /graph model .* only Layers models/);
    await expectTyped(importTfjsLayersModel(path.join(root, 'nope.json')), ModelSpecError, /file not found/);
  });
});
