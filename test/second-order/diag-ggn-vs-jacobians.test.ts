/**
 * Exact GGN quantities vs autodiff Jacobians: for small random networks, DiagGGNExact,
 * BatchDiagGGNExact, SqrtGGNExact and GGNMP must agree with G_n = J_nᵀ (ρ ∇²_f ℓ_n) J_n built from
 * per-sample Jacobians (tf.grads of each output component through the forward functions) and loss
 * Hessians (double autodiff of the loss written from its definition).
 *
 * Covered: every curved activation, Conv2d/MaxPool2d/AvgPool2d/Flatten, ConvTranspose1d, BatchNorm1d,
 * grouped Conv1d with train-mode Dropout (the oracle's forward draws the same sample-keyed mask),
 * Linear with leading dims (2-D outputs), all three losses (BCEWithLogits with several outputs,
 * which BackPACK refuses) and both reductions.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, randomBatch, randomNetwork, values } from '../helpers/oracle.ts';
import { diagonal, ggnBlock, ggnOracle, hessianOracle, outerSum, randomVectors, sumAll, timesVectors } from '../helpers/second-order-oracle.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { runBatch } from '../../src/api/run.ts';
import { UsageError } from '../../src/errors/index.ts';
import { useBackend } from '../../src/backends/select.ts';
import { disposeNetwork } from '../../src/nn/network.ts';
import { LOSS_KINDS, REDUCTIONS, type LossKind, type Reduction } from '../../src/vocabulary.ts';

/**
 * float32 engine vs float32 autodiff assembled in float64: both sides carry ~1e-7 relative rounding
 * per op over a few layers; 1e-4 of the largest magnitude (the fixtures' tolerance) leaves a wide margin.
 */
const RTOL = 1e-4;
const N = 3;
const V = 2;

const lin = (i: number, o: number) => ({ type: 'Linear', in_features: i, out_features: o });
type Layers = Record<string, unknown>[];

/** Network bodies; `ce` is appended for CrossEntropyLoss when the body's output is not [N, C]. */
const CASES: Record<string, { input_shape: number[]; layers: Layers; ce?: Layers }> = {
  'MLP (Tanh, Sigmoid, ELU)': {
    input_shape: [4],
    layers: [lin(4, 5), { type: 'Tanh' }, lin(5, 5), { type: 'Sigmoid' }, lin(5, 4), { type: 'ELU', alpha: 0.7 }, lin(4, 3)],
  },
  'MLP (SELU, LogSigmoid, LeakyReLU)': {
    input_shape: [3],
    layers: [lin(3, 5), { type: 'SELU' }, lin(5, 4), { type: 'LogSigmoid' }, lin(4, 4), { type: 'LeakyReLU', negative_slope: 0.2 }, lin(4, 3)],
  },
  'CNN (Conv2d, MaxPool2d, AvgPool2d, Flatten)': {
    input_shape: [1, 6, 6],
    layers: [
      { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 3, padding: 1 },
      { type: 'Tanh' },
      { type: 'MaxPool2d', kernel_size: 2 },
      { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 2, stride: 1 },
      { type: 'Sigmoid' },
      { type: 'AvgPool2d', kernel_size: 2, stride: 1 },
      { type: 'Flatten' },
      lin(3, 3),
    ],
  },
  'ConvTranspose1d (2-D output)': {
    input_shape: [2, 3],
    layers: [
      { type: 'ConvTranspose1d', in_channels: 2, out_channels: 3, kernel_size: 3, stride: 2, padding: 1 },
      { type: 'Tanh' },
      { type: 'ConvTranspose1d', in_channels: 3, out_channels: 2, kernel_size: 2 },
    ],
    ce: [{ type: 'Flatten' }, lin(12, 3)],
  },
  'grouped Conv1d, Dropout (train), AdaptiveAvgPool1d': {
    input_shape: [2, 6],
    layers: [
      { type: 'Conv1d', in_channels: 2, out_channels: 4, kernel_size: 3, padding: 1, groups: 2 },
      { type: 'Dropout', p: 0.3, train: true },
      { type: 'Tanh' },
      { type: 'AdaptiveAvgPool1d', output_size: 3 },
      { type: 'Flatten' },
      lin(12, 3),
    ],
  },
  'BatchNorm1d (eval)': {
    input_shape: [4],
    layers: [lin(4, 5), { type: 'BatchNorm1d', num_features: 5 }, { type: 'ELU' }, lin(5, 3)],
  },
  'LayerNorm (leading dims), GroupNorm': {
    input_shape: [2, 4],
    layers: [lin(4, 4), { type: 'LayerNorm', normalized_shape: 4 }, { type: 'Tanh' }, { type: 'GroupNorm', num_groups: 1, num_channels: 2 }, lin(4, 3)],
    ce: [{ type: 'Flatten' }, lin(6, 3)],
  },
  // Partial last windows (ceil_mode), where BackPACK refuses second order for average pooling.
  'ceil_mode pools (AvgPool2d counting padding, MaxPool1d)': {
    input_shape: [1, 5, 6],
    layers: [
      { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 1 }, { type: 'Tanh' }, { type: 'AvgPool2d', kernel_size: 3, stride: 2, padding: 1, ceil_mode: true },
      { type: 'Flatten', start_dim: 2 }, { type: 'MaxPool1d', kernel_size: 3, stride: 2, ceil_mode: true }, { type: 'Flatten' }, lin(12, 3),
    ],
  },
  // No `ce`: CrossEntropyLoss takes [N, C, H, W] as it is (torch's K-dimensional form).
  'Conv2d head, CrossEntropyLoss K-dimensional': {
    input_shape: [2, 3, 3],
    layers: [{ type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 2 }, { type: 'Tanh' }, { type: 'Conv2d', in_channels: 3, out_channels: 3, kernel_size: 1 }],
  },
  'Linear with leading dims (2-D output)': {
    input_shape: [2, 4],
    layers: [lin(4, 5), { type: 'Tanh' }, lin(5, 3)],
    ce: [{ type: 'Flatten' }, lin(6, 3)],
  },
};

const COMBOS: [LossKind, Reduction][] = LOSS_KINDS.flatMap((l) => REDUCTIONS.map((r) => [l, r] as [LossKind, Reduction]));

beforeAll(async () => {
  await useBackend('cpu');
});

describe.each(Object.keys(CASES))('%s', (name) => {
  it.each(COMBOS)('%s (%s): diag_ggn_exact, diag_ggn_exact_batch, sqrt_ggn_exact, ggnmp', (lossType, reduction) => {
    const c = CASES[name];
    const layers = lossType === 'CrossEntropyLoss' && c.ce ? [...c.layers, ...c.ce] : c.layers;
    const rng = mulberry32(500 + Object.keys(CASES).indexOf(name) * 11 + COMBOS.findIndex(([l, r]) => l === lossType && r === reduction));
    const net = randomNetwork({ input_shape: c.input_shape, layers, loss: { type: lossType, reduction } }, rng);
    try {
      const { inputs, targets } = randomBatch(net, N, rng);
      const vectors = randomVectors(net, V, rng);
      const run = runBatch(net, inputs, targets, { extensions: ['DiagGGNExact', 'BatchDiagGGNExact', 'SqrtGGNExact', 'GGNMP'], vectors });
      const oracle = ggnOracle(net, inputs, targets);
      const C = oracle[0].D;
      for (const p of net.paramNames) {
        const shape = net.paramShapes[p];
        const P = shape.reduce((a, b) => a * b, 1);
        const blocks = oracle.map((s) => ggnBlock(s, p));
        const total = sumAll(blocks);
        const label = `${name} ${lossType}/${reduction} ${p}`;
        // Off-diagonal entries and sums can cancel to float32 noise; judge them on the block's scale.
        const atol = 1e-6 * maxAbs(total);

        const diag = run.results.get(`${p}.diag_ggn_exact`)!;
        expect(diag.shape, label).toEqual(shape);
        expectClose(values(diag), diagonal(total), { rtol: RTOL, atol, label: `${label}.diag_ggn_exact` });

        const batch = run.results.get(`${p}.diag_ggn_exact_batch`)!;
        expect(batch.shape, label).toEqual([N, ...shape]);
        const expectedBatch = new Float64Array(N * P);
        blocks.forEach((b, n) => expectedBatch.set(diagonal(b), n * P));
        expectClose(values(batch), expectedBatch, { rtol: RTOL, atol, label: `${label}.diag_ggn_exact_batch` });

        // Σ_c Q[c, n] Q[c, n]ᵀ is the full per-sample block, not only its diagonal.
        const sqrt = run.results.get(`${p}.sqrt_ggn_exact`)!;
        expect(sqrt.shape, label).toEqual([C, N, ...shape]);
        const q = values(sqrt);
        for (let n = 0; n < N; n++) {
          const rows = Array.from({ length: C }, (_, k) => q.subarray((k * N + n) * P, (k * N + n + 1) * P));
          expectClose(outerSum(rows), blocks[n], { rtol: RTOL, atol, label: `${label}.sqrt_ggn_exact sample ${n}` });
        }

        const ggnmp = run.results.get(`${p}.ggnmp`)!;
        expect(ggnmp.shape, label).toEqual([V, ...shape]);
        expectClose(values(ggnmp), timesVectors(total, values(vectors.get(p))), { rtol: RTOL, atol: atol * 10, label: `${label}.ggnmp` });
      }
    } finally {
      disposeNetwork(net);
    }
  });
});

describe('subsampling and vectors', () => {
  it('BatchDiagGGNExact / SqrtGGNExact / BatchDiagHessian follow the subsampling list (shard size 2); sums stay over the batch', () => {
    const SUB = [3, 0, 3];
    const rng = mulberry32(77);
    const net = randomNetwork({ input_shape: [3], layers: [lin(3, 4), { type: 'Sigmoid' }, lin(4, 3)], loss: { type: 'CrossEntropyLoss', reduction: 'mean' } }, rng);
    try {
      const { inputs, targets } = randomBatch(net, 4, rng);
      const ext = ['DiagGGNExact', 'BatchDiagGGNExact', 'SqrtGGNExact', 'BatchDiagHessian'] as const;
      const run = runBatch(net, inputs, targets, { extensions: [...ext], subsampling: SUB, shardSize: 2 });
      const oracle = ggnOracle(net, inputs, targets);
      const hessians = hessianOracle(net, inputs, targets);
      for (const p of net.paramNames) {
        const shape = net.paramShapes[p];
        const P = shape.reduce((a, b) => a * b, 1);
        const blocks = oracle.map((s) => ggnBlock(s, p));
        const atol = 1e-6 * maxAbs(sumAll(blocks));
        const h = run.results.get(`${p}.diag_h_batch`)!;
        expect(h.shape).toEqual([SUB.length, ...shape]);
        const hRows = new Float64Array(SUB.length * P);
        SUB.forEach((n, r) => hRows.set(diagonal(hessians.get(p)![n]), r * P));
        expectClose(values(h), hRows, { rtol: RTOL, atol: 1e-6 * maxAbs(hRows), label: `${p}.diag_h_batch` });
        expectClose(values(run.results.get(`${p}.diag_ggn_exact`)), diagonal(sumAll(blocks)), { rtol: RTOL, atol, label: `${p}.diag_ggn_exact` });
        const batch = run.results.get(`${p}.diag_ggn_exact_batch`)!;
        expect(batch.shape).toEqual([SUB.length, ...shape]);
        const rows = new Float64Array(SUB.length * P);
        SUB.forEach((n, r) => rows.set(diagonal(blocks[n]), r * P));
        expectClose(values(batch), rows, { rtol: RTOL, atol, label: `${p}.diag_ggn_exact_batch` });
        const sqrt = run.results.get(`${p}.sqrt_ggn_exact`)!;
        expect(sqrt.shape).toEqual([3, SUB.length, ...shape]);
        const q = values(sqrt);
        SUB.forEach((n, r) => {
          const cols = [0, 1, 2].map((c) => q.subarray((c * SUB.length + r) * P, (c * SUB.length + r + 1) * P));
          expectClose(outerSum(cols), blocks[n], { rtol: RTOL, atol, label: `${p}.sqrt_ggn_exact row ${r}` });
        });
      }
    } finally {
      disposeNetwork(net);
    }
  });

  it.each(['GGNMP', 'HMP'] as const)('%s without vectors for a parameter is a UsageError naming it', (q) => {
    const rng = mulberry32(78);
    const net = randomNetwork({ input_shape: [3], layers: [lin(3, 2)], loss: { type: 'MSELoss' } }, rng);
    try {
      const { inputs, targets } = randomBatch(net, 2, rng);
      const vectors = randomVectors(net, 1, rng);
      vectors.delete('0.bias');
      expect(() => runBatch(net, inputs, targets, { extensions: [q], vectors })).toThrow(UsageError);
      expect(() => runBatch(net, inputs, targets, { extensions: [q], vectors })).toThrow(/'0\.bias'/);
    } finally {
      disposeNetwork(net);
    }
  });
});
