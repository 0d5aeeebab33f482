/**
 * The size estimate (nn/size-estimate.ts) and the budget (nn/memory-budget.ts): exact sizes where
 * they are arithmetic (activations, outputs per quantity), an upper bound on what a shard really
 * allocates (tf.profile's peak, cpu backend) that is not absurdly loose, refusals that name the
 * layer before anything is allocated (ZeroPad2d 1e9, AdaptiveAvgPool2d 1e5, 10^7 MC samples),
 * shards cut to fit, the wasm heap cap, and memory-plan using the same numbers.
 */
import { describe, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { bytesPerSample, shardSizeFor } from '../../src/coordinator/memory-plan.ts';
import { tf } from '../../src/core/tf.ts';
import { MemoryBudgetError } from '../../src/errors/index.ts';
import { budgetOf, fitShardSize, formatBytes, requireJobFits, requireJobRunnable, requireShardFits, shardBudget, WASM_HEAP_BYTES } from '../../src/nn/memory-budget.ts';
import { buildNetwork, disposeNetwork } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { estimateSizes, shardBytes } from '../../src/nn/size-estimate.ts';
import type { ModelSpec } from '../../src/nn/spec.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { mulberry32, randomBatch, randomWeights } from '../helpers/oracle.ts';

const spec = (input_shape: number[], layers: unknown[], loss = 'CrossEntropyLoss'): ModelSpec =>
  parseModelSpec({ input_shape, layers, loss: { type: loss, reduction: 'mean' } });

const MLP = spec([6], [{ type: 'Linear', in_features: 6, out_features: 5 }, { type: 'Tanh' }, { type: 'Linear', in_features: 5, out_features: 3 }]);
const P = 6 * 5 + 5 + 5 * 3 + 3; // parameters of MLP

const CNN = spec([3, 16, 16], [
  { type: 'Conv2d', in_channels: 3, out_channels: 8, kernel_size: 3, padding: 1 }, { type: 'Tanh' },
  { type: 'MaxPool2d', kernel_size: 2 }, { type: 'Conv2d', in_channels: 8, out_channels: 8, kernel_size: 3, stride: 2, padding: 1 }, { type: 'ReLU' },
  { type: 'Flatten' }, { type: 'Linear', in_features: 128, out_features: 10 },
]);
const WIDE = spec([64], [
  { type: 'Linear', in_features: 64, out_features: 128 }, { type: 'Sigmoid' }, { type: 'Linear', in_features: 128, out_features: 128 }, { type: 'ELU' },
  { type: 'Linear', in_features: 128, out_features: 5 },
], 'MSELoss');
const POOLS = spec([2, 20, 20], [
  { type: 'ZeroPad2d', padding: 3 }, { type: 'AdaptiveAvgPool2d', output_size: 30 }, { type: 'Conv2d', in_channels: 2, out_channels: 4, kernel_size: 5, dilation: 2 },
  { type: 'Flatten' }, { type: 'Linear', in_features: 4 * 22 * 22, out_features: 3 },
], 'BCEWithLogitsLoss');

const output = (e: ReturnType<typeof estimateSizes>, q: string) => e.outputs.find((o) => o.quantity === q)!;

describe('sizes that are arithmetic', () => {
  it('activations per node, in float32 bytes, named as messages name them', () => {
    const e = estimateSizes(MLP, { extensions: [], N: 4 });
    expect(e.nodes.map((n) => [n.where, n.outShape, n.activation])).toEqual([
      ['layers[0] (Linear)', [5], 20], ['layers[1] (Tanh)', [5], 20], ['layers[2] (Linear)', [3], 12],
    ]);
    expect(e.parameters).toBe(4 * P);
  });

  it('outputs per quantity: rows per sample, sums per job, factor and vector counts', () => {
    const e = estimateSizes(MLP, { extensions: ['BatchGrad', 'Variance', 'SqrtGGNExact', 'SqrtGGNMC', 'KFAC', 'GGNMP', 'BatchL2Grad'], N: 7, mcSamples: 4, vectors: 2 });
    expect(output(e, 'grad')).toMatchObject({ perJob: 4 * P, combines: 'sum' });
    expect(output(e, 'BatchGrad')).toMatchObject({ perSample: 4 * P, perJob: 4 * P * 7, combines: 'rows' });
    expect(output(e, 'Variance')).toMatchObject({ perSample: 0, perJob: 4 * P });
    expect(output(e, 'SqrtGGNExact').perSample).toBe(4 * 3 * P); // C = 3 classes
    expect(output(e, 'SqrtGGNMC').perSample).toBe(4 * 4 * P); // M = 4
    expect(output(e, 'GGNMP').perJob).toBe(4 * 2 * P); // V = 2
    expect(output(e, 'BatchL2Grad').perSample).toBe(4 * 4); // one number per parameter tensor
    // KFAC: weight B [o, o] + A [i, i], bias B [o, o].
    expect(output(e, 'KFAC').perJob).toBe(4 * (25 + 36 + 25 + 9 + 25 + 9));
  });

  it('subsampling sizes per-sample outputs by its length', () => {
    const e = estimateSizes(MLP, { extensions: ['BatchGrad'], N: 100, rows: 3 });
    expect(output(e, 'BatchGrad').perJob).toBe(4 * P * 3);
  });

  it('the Hessian stacks 2·numel(in) residual columns for each nonlinear layer downstream', () => {
    const ggn = estimateSizes(MLP, { extensions: ['DiagGGNExact'], N: 1 });
    const hess = estimateSizes(MLP, { extensions: ['DiagHessian'], N: 1 });
    // Work at layers[0]: factors on its output [5] and input [6]: C = 3 for the GGN, 3 + 2·5 for the Hessian.
    expect(hess.nodes[0].largest).toBeGreaterThan(ggn.nodes[0].largest);
    expect(hess.nodes[0].largest).toBeGreaterThanOrEqual(4 * (3 + 10) * 6);
    expect(hess.nodes[2].largest).toBe(ggn.nodes[2].largest); // after the Tanh: no residual yet
  });
});

describe('an upper bound on what a shard allocates, not a loose one', () => {
  const cases: [string, ModelSpec, ExtensionName[]][] = [
    ['cnn, first order', CNN, ['BatchGrad', 'Variance']],
    ['cnn, DiagGGNExact', CNN, ['DiagGGNExact', 'BatchDiagGGNExact']],
    ['mlp, DiagHessian (residual factors)', WIDE, ['DiagHessian', 'BatchDiagHessian']],
    ['mlp, KFAC + SqrtGGNMC', WIDE, ['KFAC', 'KFLR', 'SqrtGGNMC']],
    ['pools and dilation, SqrtGGNExact', POOLS, ['SqrtGGNExact', 'BatchL2Grad']],
  ];
  it.each(cases)('%s', async (_name, s, extensions) => {
    await useBackend('cpu');
    const net = buildNetwork(s, randomWeights(s, mulberry32(1)));
    try {
      const n = 8;
      const { inputs, targets } = randomBatch(net, n, mulberry32(2));
      const before = tf.memory().numBytes;
      const info = await tf.profile(() => {
        runBatch(net, inputs, targets, { extensions, mcSamples: 3 });
        return tf.scalar(0);
      });
      const estimate = shardBytes(estimateSizes(s, { extensions, N: n, mcSamples: 3 }), n);
      // peakBytes counts what was alive before (the network's weights): that is the shard's too.
      expect(estimate).toBeGreaterThanOrEqual(info.peakBytes - before);
      expect(estimate).toBeLessThan(8 * (info.peakBytes - before));
    } finally {
      disposeNetwork(net);
    }
  });
});

describe('refusals name the layer and the size, from the spec alone', () => {
  const budget = budgetOf(8 * 2 ** 30);
  const refuse = (s: ModelSpec, extensions: ExtensionName[], fragment: RegExp, mcSamples = 1) => {
    const t0 = performance.now();
    const e = estimateSizes(s, { extensions, N: 1, mcSamples });
    expect(() => fitShardSize(e, budget, extensions)).toThrow(MemoryBudgetError);
    expect(() => fitShardSize(e, budget, extensions)).toThrow(fragment);
    expect(performance.now() - t0).toBeLessThan(1000); // nothing of that size was made
  };

  it('ZeroPad2d with padding 1e9', () => {
    refuse(spec([1, 2, 2], [{ type: 'ZeroPad2d', padding: 1e9 }, { type: 'Flatten' }], 'MSELoss'), ['BatchGrad'],
      /--max-memory 8\.0 GiB is below the ~[\d.]+ EiB one sample needs for BatchGrad: layers\[0\] \(ZeroPad2d\) with output \[1, 2000000002, 2000000002\]/);
  });

  it('AdaptiveAvgPool2d with output 1e5 (its averaging matrices are not built to find out)', () => {
    refuse(spec([1, 100000, 2], [{ type: 'AdaptiveAvgPool2d', output_size: 100000 }, { type: 'Flatten' }], 'MSELoss'), [],
      /the gradient: layers\[0\] \(AdaptiveAvgPool2d\) with output \[1, 100000, 100000\] needs [\d.]+ GiB per sample/);
  });

  it('10^7 Monte-Carlo samples', () => {
    refuse(CNN, ['DiagGGNMC'], /one sample needs for DiagGGNMC: layers\[\d\] \(\w+\) with output/, 1e7);
  });

  it('outputs of the whole job: names the largest quantities', () => {
    const e = estimateSizes(MLP, { extensions: ['BatchGrad', 'SqrtGGNExact'], N: 1e7 });
    expect(() => requireJobFits(e, budgetOf(2 ** 30), { streamRows: false, held: [{ what: 'inputs', bytes: 100 }] }))
      .toThrow(/the job needs ~[\d.]+ GiB for its inputs and outputs, more than --max-memory 1\.0 GiB; largest: SqrtGGNExact [\d.]+ GiB, BatchGrad/);
    // Streamed rows are not held: only the sums count then.
    expect(() => requireJobFits(e, budgetOf(2 ** 30), { streamRows: true })).not.toThrow();
  });
});

describe('budgets and shard sizes', () => {
  it('shards are cut to the largest size that fits; requested sizes are a ceiling', () => {
    const e = estimateSizes(CNN, { extensions: ['BatchGrad'], N: 64 });
    const budget = { bytes: shardBytes(e, 10) + 1, label: 'test budget' };
    expect(fitShardSize(e, budget, ['BatchGrad'])).toBe(10);
    expect(fitShardSize(e, budget, ['BatchGrad'], 4)).toBe(4);
  });

  it('the default budget is half of physical memory; wasm caps a shard at its 4 GiB heap', () => {
    expect(budgetOf().label).toMatch(/default: 50% of this machine's memory/);
    expect(shardBudget({ bytes: 64 * 2 ** 30, label: 'big' }, 'wasm')).toEqual({ bytes: WASM_HEAP_BYTES, label: "the wasm backend's 4.0 GiB heap" });
    expect(shardBudget({ bytes: 64 * 2 ** 30, label: 'big' }, 'cpu').bytes).toBe(64 * 2 ** 30);
  });

  it('queue: a job no worker could run, and a shard over this worker\'s budget', () => {
    expect(() => requireJobRunnable(CNN, { extensions: ['DiagGGNMC'], N: 8, mcSamples: 1e7, maxMemory: 2 ** 30 })).toThrow(MemoryBudgetError);
    expect(() => requireJobRunnable(CNN, { extensions: ['BatchGrad'], N: 8, maxMemory: 2 ** 30 })).not.toThrow();
    const one = shardBytes(estimateSizes(CNN, { extensions: ['BatchGrad'], N: 64 }), 1);
    expect(() => requireShardFits(CNN, { extensions: ['BatchGrad'], N: 64, maxMemory: 3 * one }, 64))
      .toThrow(/a shard of 64 samples needs ~[\d.]+ MiB for BatchGrad, more than --max-memory [\d.]+ MiB of this worker \(\d fits?|would fit\)/);
    expect(() => requireShardFits(CNN, { extensions: ['BatchGrad'], N: 64, maxMemory: 3 * one }, 1)).not.toThrow();
  });

  it('memory-plan (the coordinator\'s shard cutting) uses the same estimate', async () => {
    await useBackend('cpu');
    const net = buildNetwork(CNN, randomWeights(CNN, mulberry32(1)));
    try {
      expect(bytesPerSample(net, ['DiagGGNExact'])).toBe(shardBytes(estimateSizes(CNN, { extensions: ['DiagGGNExact'], N: 1 }), 1));
      const e = estimateSizes(CNN, { extensions: ['DiagGGNExact'], N: 32 });
      expect(shardSizeFor(net, ['DiagGGNExact'], shardBytes(e, 5), 32)).toBe(5);
    } finally {
      disposeNetwork(net);
    }
  });

  it('formatBytes reads at any scale', () => {
    expect([100, 3 * 2 ** 20, 1.5 * 2 ** 30, 2 ** 62, Infinity].map(formatBytes)).toEqual(['0.1 KiB', '3.0 MiB', '1.5 GiB', '4.0 EiB', 'more than 1024 EiB']);
  });
});
