/**
 * Exact Hessian quantities vs the autodiff Hessian: DiagHessian, BatchDiagHessian and HMP must equal
 * the diagonal / block products of ∇²_θ ρℓ_n computed by double tf.grad (one row per parameter
 * element, one sample at a time) through the forward functions, for 2-layer MLPs with every
 * activation, all three losses, two CNNs, ConvTranspose1d + BatchNorm1d, and Linear with leading dims. The double-grad oracle itself is first checked against
 * central finite differences of the first-order autodiff gradient.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, randomBatch, randomNetwork, values } from '../helpers/oracle.ts';
import { diagonal, finiteDifferenceDiag, hessianOracle, randomVectors, sumAll, timesVectors } from '../helpers/second-order-oracle.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { tf } from '../../src/core/tf.ts';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { disposeNetwork } from '../../src/nn/network.ts';
import { LOSS_KINDS, type LossKind, type Reduction } from '../../src/vocabulary.ts';

/** float32 on both sides (the oracle's double backward included); see diag-ggn-vs-jacobians. */
const RTOL = 1e-4;
const N = 3;
const V = 2;

const lin = (i: number, o: number) => ({ type: 'Linear', in_features: i, out_features: o });
const ACTIVATIONS: Record<string, unknown>[] = [
  { type: 'ReLU' },
  { type: 'Sigmoid' },
  { type: 'Tanh' },
  { type: 'LeakyReLU', negative_slope: 0.2 },
  { type: 'ELU', alpha: 0.7 },
  { type: 'SELU' },
  { type: 'LogSigmoid' },
];

const CNNS: Record<string, { input_shape: number[]; layers: Record<string, unknown>[] }> = {
  'CNN (Conv2d, Tanh, AvgPool2d, Conv2d, ELU, Flatten, Linear)': {
    input_shape: [1, 4, 4],
    layers: [
      { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 2 },
      { type: 'Tanh' },
      { type: 'AvgPool2d', kernel_size: 2, stride: 1 },
      { type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 2 },
      { type: 'Flatten' },
      { type: 'ELU' },
      lin(2, 3),
    ],
  },
  'CNN (Conv2d, Sigmoid, MaxPool2d, Flatten, Linear)': {
    input_shape: [1, 3, 3],
    layers: [
      { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 2, padding: 1 },
      { type: 'Sigmoid' },
      { type: 'MaxPool2d', kernel_size: 2 },
      { type: 'Flatten' },
      lin(8, 3),
    ],
  },
  'ConvTranspose1d, Tanh, BatchNorm1d ([C, L]), Flatten, Linear': {
    input_shape: [2, 2],
    layers: [
      { type: 'ConvTranspose1d', in_channels: 2, out_channels: 2, kernel_size: 2, stride: 2 },
      { type: 'Tanh' },
      { type: 'BatchNorm1d', num_features: 2 },
      { type: 'Flatten' },
      lin(8, 3),
    ],
  },
  'Conv1d, Sigmoid, Conv1d ([C, L] output: K-dimensional CrossEntropyLoss)': {
    input_shape: [2, 4],
    layers: [{ type: 'Conv1d', in_channels: 2, out_channels: 3, kernel_size: 2 }, { type: 'Sigmoid' }, { type: 'Conv1d', in_channels: 3, out_channels: 3, kernel_size: 2 }],
  },
  'Conv1d, Sigmoid, ceil_mode AvgPool1d and MaxPool1d, Linear': {
    input_shape: [1, 8],
    layers: [
      { type: 'Conv1d', in_channels: 1, out_channels: 2, kernel_size: 2 }, { type: 'Sigmoid' }, { type: 'AvgPool1d', kernel_size: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false },
      { type: 'MaxPool1d', kernel_size: 2, ceil_mode: true }, { type: 'Flatten' }, lin(4, 3),
    ],
  },
  'Linear, LayerNorm, Tanh, Linear': {
    input_shape: [3],
    layers: [lin(3, 4), { type: 'LayerNorm', normalized_shape: 4 }, { type: 'Tanh' }, lin(4, 3)],
  },
  'Linear, LayerNorm (no affine; output)': {
    input_shape: [3],
    layers: [lin(3, 2), { type: 'Sigmoid' }, lin(2, 3), { type: 'LayerNorm', normalized_shape: 3, elementwise_affine: false }],
  },
  'Conv1d, GroupNorm, ELU, Flatten, Linear': {
    input_shape: [2, 3],
    layers: [{ type: 'Conv1d', in_channels: 2, out_channels: 4, kernel_size: 2, padding: 1 }, { type: 'GroupNorm', num_groups: 2, num_channels: 4 }, { type: 'ELU' }, { type: 'Flatten' }, lin(16, 3)],
  },
  'Linear with leading dims, Sigmoid, Linear (2-D output; CE gets a Flatten and Linear)': {
    input_shape: [2, 3],
    layers: [lin(3, 3), { type: 'Sigmoid' }, lin(3, 2)],
  },
};

beforeAll(async () => {
  await useBackend('cpu');
});

/** Runs DiagHessian, BatchDiagHessian and HMP and compares every parameter with the oracle. */
function compare(spec: unknown, seed: number, label: string) {
  const rng = mulberry32(seed);
  const net = randomNetwork(spec, rng);
  try {
    const { inputs, targets } = randomBatch(net, N, rng);
    const vectors = randomVectors(net, V, rng);
    const run = runBatch(net, inputs, targets, { extensions: ['DiagHessian', 'BatchDiagHessian', 'HMP'], vectors });
    const oracle = hessianOracle(net, inputs, targets);
    for (const p of net.paramNames) {
      const shape = net.paramShapes[p];
      const P = shape.reduce((a, b) => a * b, 1);
      const blocks = oracle.get(p)!;
      const total = sumAll(blocks);
      // Entries that cancel (e.g. the Hessian of a ReLU network's first layer where units are off)
      // are float32 noise on both sides: judge them on the block's scale.
      const atol = 1e-6 * maxAbs(total);
      const diag = run.results.get(`${p}.diag_h`)!;
      expect(diag.shape).toEqual(shape);
      expectClose(values(diag), diagonal(total), { rtol: RTOL, atol, label: `${label} ${p}.diag_h` });
      const batch = run.results.get(`${p}.diag_h_batch`)!;
      expect(batch.shape).toEqual([N, ...shape]);
      const expectedBatch = new Float64Array(N * P);
      blocks.forEach((b, n) => expectedBatch.set(diagonal(b), n * P));
      expectClose(values(batch), expectedBatch, { rtol: RTOL, atol, label: `${label} ${p}.diag_h_batch` });
      const hmp = run.results.get(`${p}.hmp`)!;
      expect(hmp.shape).toEqual([V, ...shape]);
      expectClose(values(hmp), timesVectors(total, values(vectors.get(p))), { rtol: RTOL, atol: atol * 10, label: `${label} ${p}.hmp` });
    }
  } finally {
    disposeNetwork(net);
  }
}

describe('the double-grad oracle', () => {
  it('has exact second derivatives for the elementwise ops (tanh, sigmoid, exp, softplus, ELU form)', () => {
    const xs = [-1.3, -0.2, 0.4, 1.7];
    const second = (f: (t: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() => Array.from(tf.grad((t: tf.Tensor) => tf.grad((u: tf.Tensor) => f(u).sum())(t).sum())(tf.tensor1d(xs)).dataSync()));
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    const cases: [string, (t: tf.Tensor) => tf.Tensor, (x: number) => number][] = [
      ['tanh', (t) => tf.tanh(t), (x) => -2 * Math.tanh(x) * (1 - Math.tanh(x) ** 2)],
      ['sigmoid', (t) => tf.sigmoid(t), (x) => sig(x) * (1 - sig(x)) * (1 - 2 * sig(x))],
      ['exp', (t) => tf.exp(t), (x) => Math.exp(x)],
      ['softplus', (t) => tf.softplus(t), (x) => sig(x) * (1 - sig(x))],
      ['where(x>0, x, exp(x)−1)', (t) => tf.where(tf.greater(t, 0), t, tf.exp(t).sub(1)), (x) => (x > 0 ? 0 : Math.exp(x))],
    ];
    for (const [name, f, d2] of cases) expectClose(second(f), xs.map(d2), { rtol: 1e-5, label: name });
  });

  /**
   * Central differences of the float32 autodiff gradient with h = 1e-2: truncation O(h² f''') and
   * rounding O(ε·|g|/h) ≈ 1e-5 relative; 2e-3 of the largest entry is comfortably above both and far
   * below the size of any missing term (a dropped residual or loss-curvature term is O(1) relative).
   */
  const NORMS: Record<string, Record<string, unknown>> = {
    LayerNorm: { type: 'LayerNorm', normalized_shape: 4 },
    // One group of 4: with groups of 2, x̂ = ±1 whatever the input and the Hessian is too small for differences.
    GroupNorm: { type: 'GroupNorm', num_groups: 1, num_channels: 4 },
  };
  it.each(['Tanh', 'Sigmoid', 'ELU', 'SELU', 'LogSigmoid', 'LayerNorm', 'GroupNorm'])('agrees with finite differences through %s (CE)', (act) => {
    const net = randomNetwork({ input_shape: [3], layers: [lin(3, 4), NORMS[act] ?? { type: act }, lin(4, 3)], loss: { type: 'CrossEntropyLoss', reduction: 'sum' } }, mulberry32(7));
    try {
      const { inputs, targets } = randomBatch(net, 2, mulberry32(8));
      const oracle = hessianOracle(net, inputs, targets, ['0.weight']);
      const exact = diagonal(sumAll(oracle.get('0.weight')!));
      const fd = finiteDifferenceDiag(net, inputs, targets, '0.weight', [...exact.keys()], 1e-2);
      expectClose(exact, fd, { rtol: 2e-3, label: `${act} 0.weight` });
    } finally {
      disposeNetwork(net);
    }
  });
});

describe('DiagHessian, BatchDiagHessian, HMP vs autodiff Hessian: 2-layer MLPs', () => {
  const combos = ACTIVATIONS.flatMap((act, a) => LOSS_KINDS.map((loss, l) => [act.type as string, loss, (a + l) % 2 ? 'sum' : 'mean', act] as const));
  it.each(combos)('%s, %s (%s)', (act, loss: LossKind, reduction: Reduction, layer) => {
    const spec = { input_shape: [3], layers: [lin(3, 4), layer, lin(4, 3)], loss: { type: loss, reduction } };
    compare(spec, 300 + combos.findIndex((c) => c[0] === act && c[1] === loss), `${act} ${loss}/${reduction}`);
  });
});

describe('DiagHessian, BatchDiagHessian, HMP vs autodiff Hessian: CNNs and other layers', () => {
  it.each(Object.keys(CNNS).flatMap((name) => LOSS_KINDS.map((loss) => [name, loss] as const)))('%s, %s', (name, loss) => {
    const c = CNNS[name];
    const layers = loss === 'CrossEntropyLoss' && name.startsWith('Linear with leading dims') ? [...c.layers, { type: 'Flatten' }, lin(4, 3)] : c.layers;
    const spec = { input_shape: c.input_shape, layers, loss: { type: loss, reduction: loss === 'MSELoss' ? 'sum' : 'mean' } };
    compare(spec, 400 + Object.keys(CNNS).indexOf(name) * 3 + LOSS_KINDS.indexOf(loss), `${name} ${loss}`);
  });
});
