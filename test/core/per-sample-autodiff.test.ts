/**
 * Per-sample quantities vs reverse-mode autodiff. For small random networks covering every module
 * kind, runBatch's grad, grad_batch, batch_l2, sum_grad_squared and variance must match what
 * tf.grads gives for the ρ-scaled loss of one sample at a time, differentiated through the same
 * forward functions (the hand-written Jacobians are not on the oracle's path).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { autodiffPerSample, expectedQuantities, mulberry32, randomBatch, randomNetwork, specWithLoss, values, type OracleCase } from '../helpers/oracle.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { disposeNetwork, type Network } from '../../src/nn/network.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { LOSS_KINDS, MODULE_KINDS, REDUCTIONS, type ExtensionName, type LossKind, type Reduction } from '../../src/vocabulary.ts';

/** The first-order quantities, each checked against the oracle. */
const EXTENSIONS: ExtensionName[] = ['BatchGrad', 'BatchL2Grad', 'SumGradSquared', 'Variance'];
const RTOL = 1e-4;
const N = 3;

const lin = (i: number, o: number, extra: Record<string, unknown> = {}) => ({ type: 'Linear', in_features: i, out_features: o, ...extra });
/** Linear → activation → Linear, so the activation sits between two parametric layers. */
const around = (layer: Record<string, unknown>): OracleCase => ({ input_shape: [4], layers: [lin(4, 5), layer, lin(5, 3)] });

/**
 * Named cases; `seed` is set for train-mode Dropout; `kdim`: CrossEntropyLoss takes the [N, C, d1, …]
 * output as it is (torch's K-dimensional form) instead of after a Flatten. Every module kind appears at least once.
 */
const CASES: Record<string, OracleCase & { seed?: number; kdim?: boolean }> = {
  'Linear (bias)': { input_shape: [5], layers: [lin(5, 3)] },
  'Linear (no bias)': { input_shape: [4], layers: [lin(4, 3, { bias: false }), { type: 'Sigmoid' }, lin(3, 2)] },
  'Linear (leading dims [2,5])': { input_shape: [2, 5], layers: [lin(5, 3), { type: 'Tanh' }, lin(3, 2)] },
  Conv1d: {
    input_shape: [2, 8],
    layers: [
      { type: 'Conv1d', in_channels: 2, out_channels: 4, kernel_size: 3, stride: 2, padding: 1 },
      { type: 'Conv1d', in_channels: 4, out_channels: 4, kernel_size: 2, padding: 'same', groups: 2 },
      { type: 'Conv1d', in_channels: 4, out_channels: 4, kernel_size: 3, padding: 'same', dilation: 2, bias: false },
      { type: 'Conv1d', in_channels: 4, out_channels: 2, kernel_size: 2, dilation: 2, padding: 'valid' },
    ],
  },
  Conv2d: {
    input_shape: [2, 5, 5],
    layers: [
      { type: 'Conv2d', in_channels: 2, out_channels: 4, kernel_size: 3, stride: [2, 1], padding: 1 },
      { type: 'Conv2d', in_channels: 4, out_channels: 4, kernel_size: [2, 3], padding: 'same', groups: 2 },
      { type: 'Conv2d', in_channels: 4, out_channels: 2, kernel_size: 2, dilation: 2, padding: [1, 0] },
    ],
  },
  Conv3d: {
    input_shape: [2, 4, 4, 3],
    layers: [
      { type: 'Conv3d', in_channels: 2, out_channels: 2, kernel_size: 2, stride: [1, 2, 1], padding: 1, groups: 2 },
      { type: 'Conv3d', in_channels: 2, out_channels: 2, kernel_size: [2, 2, 1], padding: 'same', dilation: [1, 2, 1] },
      { type: 'Conv3d', in_channels: 2, out_channels: 1, kernel_size: 2, padding: 'valid', bias: false },
    ],
  },
  ConvTranspose1d: {
    input_shape: [4, 3],
    layers: [
      { type: 'ConvTranspose1d', in_channels: 4, out_channels: 2, kernel_size: 3, stride: 2, padding: 1, output_padding: 1, groups: 2 },
      { type: 'ConvTranspose1d', in_channels: 2, out_channels: 2, kernel_size: 2, dilation: 2, bias: false },
    ],
  },
  ConvTranspose2d: {
    input_shape: [2, 3, 3],
    layers: [
      { type: 'ConvTranspose2d', in_channels: 2, out_channels: 4, kernel_size: [3, 2], stride: 2, padding: 1, output_padding: 1, groups: 2 },
      { type: 'ConvTranspose2d', in_channels: 4, out_channels: 2, kernel_size: 2, dilation: 2, output_padding: 1 },
    ],
  },
  ConvTranspose3d: {
    input_shape: [2, 2, 2, 2],
    layers: [
      { type: 'ConvTranspose3d', in_channels: 2, out_channels: 2, kernel_size: 2, stride: 2, padding: 1, output_padding: 1, groups: 2 },
      { type: 'ConvTranspose3d', in_channels: 2, out_channels: 1, kernel_size: [1, 2, 2], stride: [1, 2, 1] },
    ],
  },
  // Pools follow a parametric layer (so their Jacobian is exercised) and never a layer that can
  // produce exact ties (autodiff's max spreads a tie over all maximisers, torch picks the first).
  MaxPool1d: {
    input_shape: [2, 7],
    layers: [
      { type: 'Conv1d', in_channels: 2, out_channels: 2, kernel_size: 2 },
      { type: 'MaxPool1d', kernel_size: 2, stride: 1, dilation: 2 },
      { type: 'Conv1d', in_channels: 2, out_channels: 2, kernel_size: 2 },
      { type: 'MaxPool1d', kernel_size: 3, stride: 2, padding: 1 },
    ],
  },
  MaxPool2d: {
    input_shape: [1, 6, 7],
    layers: [
      { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 3, padding: 1 },
      { type: 'MaxPool2d', kernel_size: [3, 2], stride: [2, 1], padding: 1 },
    ],
  },
  MaxPool3d: {
    input_shape: [1, 4, 4, 4],
    layers: [
      { type: 'Conv3d', in_channels: 1, out_channels: 2, kernel_size: 1 },
      { type: 'MaxPool3d', kernel_size: 2, stride: [1, 2, 2], padding: 1 },
    ],
  },
  AvgPool1d: {
    input_shape: [2, 7],
    layers: [
      { type: 'Conv1d', in_channels: 2, out_channels: 2, kernel_size: 1 },
      { type: 'AvgPool1d', kernel_size: 3, stride: 2, padding: 1, count_include_pad: false },
    ],
  },
  AvgPool2d: {
    input_shape: [2, 5, 6],
    layers: [
      { type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 1 },
      { type: 'AvgPool2d', kernel_size: [3, 2], stride: 2, padding: 1 },
      { type: 'AvgPool2d', kernel_size: 2, stride: 1, padding: 1, count_include_pad: false },
    ],
  },
  AvgPool3d: {
    input_shape: [2, 4, 4, 5],
    layers: [
      { type: 'Conv3d', in_channels: 2, out_channels: 2, kernel_size: 1 },
      { type: 'AvgPool3d', kernel_size: 2, stride: [2, 1, 2], padding: 1, divisor_override: 3 },
    ],
  },
  AdaptiveAvgPool1d: {
    input_shape: [2, 5],
    layers: [{ type: 'Conv1d', in_channels: 2, out_channels: 3, kernel_size: 1 }, { type: 'AdaptiveAvgPool1d', output_size: 3 }],
  },
  AdaptiveAvgPool2d: {
    input_shape: [2, 5, 7],
    layers: [
      { type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 1 },
      { type: 'AdaptiveAvgPool2d', output_size: [3, null] },
      { type: 'AdaptiveAvgPool2d', output_size: [2, 4] },
    ],
  },
  AdaptiveAvgPool3d: {
    input_shape: [1, 3, 4, 5],
    layers: [{ type: 'Conv3d', in_channels: 1, out_channels: 2, kernel_size: 1 }, { type: 'AdaptiveAvgPool3d', output_size: [2, 3, 2] }],
  },
  ZeroPad2d: {
    input_shape: [1, 3, 3],
    layers: [
      { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 1 },
      { type: 'ZeroPad2d', padding: [1, 0, 2, 1] },
      { type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 2 },
      { type: 'ZeroPad2d', padding: 1 },
      { type: 'Conv2d', in_channels: 2, out_channels: 1, kernel_size: 3, stride: 2 },
    ],
  },
  Flatten: {
    input_shape: [2, 3, 3],
    layers: [{ type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 2 }, { type: 'Flatten' }, lin(8, 3)],
  },
  'Flatten (start_dim=2)': {
    input_shape: [2, 3, 3],
    layers: [{ type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 2 }, { type: 'Flatten', start_dim: 2 }, lin(4, 3)],
  },
  'Dropout (eval)': around({ type: 'Dropout', p: 0.5 }),
  'Dropout (train)': { ...around({ type: 'Dropout', p: 0.4, train: true }), seed: 7 },
  Identity: around({ type: 'Identity' }),
  ReLU: around({ type: 'ReLU' }),
  Sigmoid: around({ type: 'Sigmoid' }),
  Tanh: around({ type: 'Tanh' }),
  LeakyReLU: around({ type: 'LeakyReLU', negative_slope: 0.2 }),
  ELU: around({ type: 'ELU', alpha: 0.7 }),
  SELU: around({ type: 'SELU' }),
  LogSigmoid: around({ type: 'LogSigmoid' }),
  'BatchNorm1d ([C])': { input_shape: [4], layers: [lin(4, 3), { type: 'BatchNorm1d', num_features: 3 }, lin(3, 2)] },
  'BatchNorm1d ([C, L])': {
    input_shape: [3, 5],
    layers: [{ type: 'BatchNorm1d', num_features: 3, eps: 1e-3 }, { type: 'Conv1d', in_channels: 3, out_channels: 2, kernel_size: 2 }],
  },
  BatchNorm2d: {
    input_shape: [2, 3, 3],
    layers: [{ type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 2 }, { type: 'BatchNorm2d', num_features: 3 }],
  },
  BatchNorm3d: {
    input_shape: [2, 2, 2, 3],
    layers: [{ type: 'BatchNorm3d', num_features: 2 }, { type: 'Conv3d', in_channels: 2, out_channels: 2, kernel_size: 1 }, { type: 'BatchNorm3d', num_features: 2, affine: false }],
  },
  'LayerNorm (leading dims; no bias)': { input_shape: [2, 4], layers: [lin(4, 4), { type: 'LayerNorm', normalized_shape: 4, bias: false }, { type: 'Tanh' }, lin(4, 3)] },
  'LayerNorm (over [C, L]; no affine)': {
    input_shape: [2, 3],
    layers: [{ type: 'LayerNorm', normalized_shape: [2, 3], eps: 1e-3 }, { type: 'Conv1d', in_channels: 2, out_channels: 2, kernel_size: 2 }, { type: 'LayerNorm', normalized_shape: [2, 2], elementwise_affine: false }],
  },
  // Every pool below has a partial last window along some dim (ceil_mode adds one where floor would not).
  'ceil_mode pools (MaxPool1d, AvgPool1d)': {
    input_shape: [2, 8],
    layers: [
      { type: 'Conv1d', in_channels: 2, out_channels: 2, kernel_size: 2 }, { type: 'MaxPool1d', kernel_size: 2, ceil_mode: true },
      { type: 'AvgPool1d', kernel_size: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false }, { type: 'Flatten' }, lin(6, 3),
    ],
  },
  'ceil_mode pools (AvgPool2d counting padding, MaxPool2d with dilation)': {
    input_shape: [1, 5, 6],
    layers: [
      { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 1 }, { type: 'AvgPool2d', kernel_size: 3, stride: 2, padding: 1, ceil_mode: true },
      { type: 'MaxPool2d', kernel_size: [2, 3], stride: 2, dilation: [2, 1], ceil_mode: true }, { type: 'Flatten' }, lin(4, 3),
    ],
  },
  'ceil_mode pools (MaxPool3d, AvgPool3d)': {
    input_shape: [1, 3, 4, 5],
    layers: [
      { type: 'Conv3d', in_channels: 1, out_channels: 2, kernel_size: 1 }, { type: 'MaxPool3d', kernel_size: 2, ceil_mode: true },
      { type: 'AvgPool3d', kernel_size: 2, ceil_mode: true }, { type: 'Flatten' }, lin(4, 3),
    ],
  },
  'CrossEntropyLoss on [N, C, H, W] (K-dimensional)': {
    input_shape: [2, 3, 3],
    layers: [{ type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 2 }, { type: 'Tanh' }, { type: 'Conv2d', in_channels: 3, out_channels: 3, kernel_size: 1 }],
    kdim: true,
  },
  'CrossEntropyLoss on [N, C, L] after BatchNorm1d (K-dimensional)': {
    input_shape: [2, 4],
    layers: [{ type: 'Conv1d', in_channels: 2, out_channels: 3, kernel_size: 2 }, { type: 'BatchNorm1d', num_features: 3 }, { type: 'Sigmoid' }, { type: 'Conv1d', in_channels: 3, out_channels: 4, kernel_size: 1 }],
    kdim: true,
  },
  GroupNorm: {
    input_shape: [4, 3, 2],
    layers: [
      { type: 'Conv2d', in_channels: 4, out_channels: 4, kernel_size: 1 }, { type: 'GroupNorm', num_groups: 2, num_channels: 4 },
      { type: 'Conv2d', in_channels: 4, out_channels: 2, kernel_size: 2 }, { type: 'GroupNorm', num_groups: 1, num_channels: 2, affine: false },
    ],
  },
};

const COMBOS: [LossKind, Reduction][] = LOSS_KINDS.flatMap((l) => REDUCTIONS.map((r) => [l, r] as [LossKind, Reduction]));

/** Runs the engine and the oracle on one network and compares every result key. */
function compare(net: Network, inputs: HostTensor, targets: HostTensor, seed: number, label: string) {
  const run = runBatch(net, inputs, targets, { extensions: EXTENSIONS, seed });
  const oracle = autodiffPerSample(net, inputs, targets, seed);
  expect(Math.abs(run.loss - oracle.loss), `${label}: loss ${run.loss} vs ${oracle.loss}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(oracle.loss)));
  const fields = ['grad', 'grad_batch', 'batch_l2', 'sum_grad_squared', 'variance'];
  expect([...run.results.keys()].sort()).toEqual(net.paramNames.flatMap((p) => fields.map((f) => `${p}.${f}`)).sort());
  // Some sums cancel exactly (the last bias under CE: Σ_c (p_c − y_c) = 0), leaving float32
  // noise on both sides; judge every gradient also on the scale of the network's largest one.
  const scale = Math.max(...[...oracle.grads.values()].flatMap((g) => g.rows.map(maxAbs)));
  const atol = 1e-6 * scale;
  const atol2 = 1e-6 * scale * scale;
  for (const p of net.paramNames) {
    const g = oracle.grads.get(p)!;
    const e = expectedQuantities(g);
    const at = (f: string) => run.results.get(`${p}.${f}`)!;
    expect(at('grad').shape, `${label} ${p}.grad shape`).toEqual(g.shape);
    expect(at('grad_batch').shape, `${label} ${p}.grad_batch shape`).toEqual([N, ...g.shape]);
    expect(at('batch_l2').shape).toEqual([N]);
    expect(at('sum_grad_squared').shape).toEqual(g.shape);
    expect(at('variance').shape).toEqual(g.shape);
    expectClose(values(at('grad')), e.grad, { rtol: RTOL, atol, label: `${label} ${p}.grad` });
    expectClose(values(at('grad_batch')), e.gradBatch, { rtol: RTOL, atol, label: `${label} ${p}.grad_batch` });
    expectClose(values(at('batch_l2')), e.batchL2, { rtol: RTOL, atol: atol2, label: `${label} ${p}.batch_l2` });
    expectClose(values(at('sum_grad_squared')), e.sumsq, { rtol: RTOL, atol: atol2, label: `${label} ${p}.sum_grad_squared` });
    // The variance is a difference of two float32-accumulated terms: judge it on their scale.
    expectClose(values(at('variance')), e.variance, { rtol: RTOL, atol: atol2 + RTOL * maxAbs(e.meanSq), label: `${label} ${p}.variance` });
  }
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('per-sample gradients vs autodiff', () => {
  it('covers every module kind', () => {
    const used = new Set(Object.values(CASES).flatMap((c) => c.layers.map((l) => l.type as string)));
    expect(MODULE_KINDS.filter((k) => !used.has(k))).toEqual([]);
  });

  describe.each(Object.keys(CASES))('%s', (name) => {
    const c = CASES[name];
    it.each(COMBOS)('%s (%s)', (lossType, reduction) => {
      const rng = mulberry32(1000 + Object.keys(CASES).indexOf(name) * 17 + COMBOS.findIndex(([l, r]) => l === lossType && r === reduction));
      const probe = randomNetwork(specWithLoss(c, 'MSELoss', 'sum', false), mulberry32(0));
      const needsFlatten = !c.kdim && probe.outputShape.length > 1;
      disposeNetwork(probe);
      const net = randomNetwork(specWithLoss(c, lossType, reduction, needsFlatten), rng);
      try {
        const { inputs, targets } = randomBatch(net, N, rng);
        compare(net, inputs, targets, c.seed ?? 0, `${name} ${lossType}/${reduction}`);
      } finally {
        disposeNetwork(net);
      }
    });
  });
});

describe('subsampling', () => {
  const nets: Record<string, OracleCase> = {
    MLP: { input_shape: [4], layers: [lin(4, 5), { type: 'Tanh' }, lin(5, 3)] },
    CNN: {
      input_shape: [1, 4, 4],
      layers: [{ type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 3, padding: 1 }, { type: 'Sigmoid' }, { type: 'Flatten' }, lin(32, 3)],
    },
  };
  const SUB = [2, 0, 2];

  it.each(Object.keys(nets).flatMap((n) => [[n, undefined], [n, 2], [n, 1]] as [string, number | undefined][]))('%s, shard size %s: rows 2, 0, 2 in that order', (name, shardSize) => {
    const rng = mulberry32(99);
    const net = randomNetwork(specWithLoss(nets[name], 'CrossEntropyLoss', 'mean', false), rng);
    try {
      const { inputs, targets } = randomBatch(net, 4, rng);
      const run = runBatch(net, inputs, targets, { extensions: EXTENSIONS, subsampling: SUB, shardSize });
      const oracle = autodiffPerSample(net, inputs, targets);
      for (const p of net.paramNames) {
        const g = oracle.grads.get(p)!;
        const sub = expectedQuantities(g, SUB);
        const all = expectedQuantities(g);
        expect(run.results.get(`${p}.grad_batch`)!.shape).toEqual([SUB.length, ...g.shape]);
        expect(run.results.get(`${p}.batch_l2`)!.shape).toEqual([SUB.length]);
        expectClose(values(run.results.get(`${p}.grad_batch`)), sub.gradBatch, { rtol: RTOL, label: `${p}.grad_batch` });
        expectClose(values(run.results.get(`${p}.batch_l2`)), sub.batchL2, { rtol: RTOL, label: `${p}.batch_l2` });
        // Subsampling restricts only the per-sample rows; the sums stay over the whole batch.
        expectClose(values(run.results.get(`${p}.grad`)), all.grad, { rtol: RTOL, label: `${p}.grad` });
        expectClose(values(run.results.get(`${p}.sum_grad_squared`)), all.sumsq, { rtol: RTOL, label: `${p}.sum_grad_squared` });
        expectClose(values(run.results.get(`${p}.variance`)), all.variance, { rtol: RTOL, atol: RTOL * maxAbs(all.meanSq), label: `${p}.variance` });
      }
    } finally {
      disposeNetwork(net);
    }
  });
});
