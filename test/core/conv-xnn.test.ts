/**
 * The wasm fast paths of Conv2d (forward, weight gradient and input Jacobian as XNNPACK convs)
 * against the generic unfold/fold path on the cpu backend, on layers that exercise them: stride 1
 * with asymmetric 'same' padding (even kernel), valid padding, and a strided conv that must not
 * take them. Two conv layers, so the second one's input Jacobian is used.
 */
import { describe, expect, it } from 'vitest';
import { runBatch, type RunResult } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { buildNetwork } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { mulberry32, randomBatch, randomWeights } from '../helpers/oracle.ts';

const CASES = {
  'even kernel, same padding': [
    { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 3, padding: 1 },
    { type: 'Tanh' },
    { type: 'Conv2d', in_channels: 3, out_channels: 4, kernel_size: [2, 4], padding: 'same' },
  ],
  'valid then padded': [
    { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 3 },
    { type: 'ReLU' },
    { type: 'Conv2d', in_channels: 3, out_channels: 2, kernel_size: 3, padding: 2 },
  ],
  'strided (generic path)': [
    { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 3, padding: 1 },
    { type: 'Sigmoid' },
    { type: 'Conv2d', in_channels: 3, out_channels: 2, kernel_size: 3, stride: 2, padding: 1 },
  ],
};

async function run(backend: string, layers: unknown[]): Promise<RunResult> {
  await useBackend(backend);
  const spec = parseModelSpec({ input_shape: [2, 7, 6], layers: [...layers, { type: 'Flatten' }], loss: { type: 'MSELoss', reduction: 'mean' } });
  const net = buildNetwork(spec, randomWeights(spec, mulberry32(5)));
  const { inputs, targets } = randomBatch(net, 3, mulberry32(9));
  return runBatch(net, inputs, targets, { extensions: ['BatchGrad', 'DiagGGNExact', 'SqrtGGNExact'] });
}

describe.each(Object.entries(CASES))('Conv2d on wasm = generic path on cpu: %s', (_name, layers) => {
  it('every result matches', async () => {
    const cpu = await run('cpu', layers);
    const wasm = await run('wasm', layers);
    expect([...wasm.results.keys()].sort()).toEqual([...cpu.results.keys()].sort());
    for (const [k, t] of cpu.results) expectClose(wasm.results.get(k)!.data as Float32Array, t.data as Float32Array, { rtol: 1e-4, atol: 1e-7, label: k });
  });
});

describe('MaxPool2d on wasm (XNNPACK forward, own argmax backward) = cpu', () => {
  it.each([
    ['k2 s2', { kernel_size: 2, stride: 2 }],
    ['k3 s2 p1', { kernel_size: 3, stride: 2, padding: 1 }],
    ['k3 s1 p1', { kernel_size: 3, stride: 1, padding: 1 }],
  ])('%s', async (_n, pool) => {
    const layers = [{ type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 3, padding: 1 }, { type: 'ReLU' }, { type: 'MaxPool2d', ...pool }];
    const cpu = await run('cpu', layers);
    const wasm = await run('wasm', layers);
    for (const [k, t] of cpu.results) expectClose(wasm.results.get(k)!.data as Float32Array, t.data as Float32Array, { rtol: 1e-4, atol: 1e-7, label: k });
  });
});
