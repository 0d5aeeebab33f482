/**
 * Graph models (residual connections, branches): validation, per-sample gradients against
 * autodiff through the same graph, and second-order quantities (DiagGGN, DiagHessian, SqrtGGN)
 * against autodiff Jacobians and Hessians. KFRA, undefined at branch points, is refused.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { ModelSpecError, ShapeError, UnsupportedModuleError } from '../../src/errors/index.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { buildNetwork, type Network } from '../../src/nn/network.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { autodiffPerSample, expectedQuantities, mulberry32, randomBatch, randomWeights } from '../helpers/oracle.ts';
import { diagonal, ggnBlock, ggnOracle, hessianOracle, sumAll } from '../helpers/second-order-oracle.ts';

const residual = (loss: string) => ({
  input_shape: [5],
  graph: {
    nodes: [
      { name: 'fc1', layer: { type: 'Linear', in_features: 5, out_features: 5 }, inputs: ['input'] },
      { name: 'act', layer: { type: 'Tanh' }, inputs: ['fc1'] },
      { name: 'fc2', layer: { type: 'Linear', in_features: 5, out_features: 5 }, inputs: ['act'] },
      { name: 'skip', op: 'Add', inputs: ['fc2', 'fc1'] },
      { name: 'act2', layer: { type: 'Sigmoid' }, inputs: ['skip'] },
      { name: 'head', layer: { type: 'Linear', in_features: 5, out_features: 3 }, inputs: ['act2'] },
    ],
    output: 'head',
  },
  loss: { type: loss, reduction: 'mean' },
});

const branching = {
  input_shape: [2, 4, 4],
  graph: {
    nodes: [
      { name: 'a', layer: { type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 3, padding: 1 }, inputs: ['input'] },
      { name: 'b', layer: { type: 'Conv2d', in_channels: 2, out_channels: 1, kernel_size: 1 }, inputs: ['input'] },
      { name: 'cat', op: 'Concat', dim: 1, inputs: ['a', 'b'] },
      { name: 'act', layer: { type: 'ELU' }, inputs: ['cat'] },
      { name: 'pool', layer: { type: 'AvgPool2d', kernel_size: 2 }, inputs: ['act'] },
      { name: 'flat', layer: { type: 'Flatten' }, inputs: ['pool'] },
      { name: 'fc', layer: { type: 'Linear', in_features: 12, out_features: 3 }, inputs: ['flat'] },
    ],
    output: 'fc',
  },
  loss: { type: 'CrossEntropyLoss', reduction: 'sum' },
};

function network(spec: unknown, seed: number): Network {
  const parsed = parseModelSpec(spec);
  return buildNetwork(parsed, randomWeights(parsed, mulberry32(seed)));
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('graph spec validation', () => {
  const base = residual('MSELoss');
  const withNodes = (nodes: unknown[], output = 'head') => ({ ...base, graph: { nodes, output } });
  it('names parameters after nodes', () => {
    expect(network(base, 1).paramNames).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'head.weight', 'head.bias']);
  });
  it('rejects an unknown input', () => {
    expect(() => parseModelSpec(withNodes([{ name: 'head', layer: { type: 'Linear', in_features: 5, out_features: 3 }, inputs: ['nope'] }])) && buildNetwork(parseModelSpec(withNodes([{ name: 'head', layer: { type: 'Linear', in_features: 5, out_features: 3 }, inputs: ['nope'] }])), new Map())).toThrow(/reads unknown input 'nope'/);
  });
  it('rejects a cycle and unconnected nodes', () => {
    const cyc = withNodes([
      { name: 'p', layer: { type: 'Tanh' }, inputs: ['q'] },
      { name: 'q', layer: { type: 'Tanh' }, inputs: ['p'] },
      { name: 'head', layer: { type: 'Linear', in_features: 5, out_features: 3 }, inputs: ['q'] },
    ]);
    expect(() => buildNetwork(parseModelSpec(cyc), new Map())).toThrow(ModelSpecError);
    const loose = withNodes([
      { name: 'dead', layer: { type: 'Tanh' }, inputs: ['input'] },
      { name: 'head', layer: { type: 'Linear', in_features: 5, out_features: 3 }, inputs: ['input'] },
    ]);
    expect(() => buildNetwork(parseModelSpec(loose), new Map())).toThrow(/not connected to the output: dead/);
  });
  it('checks merge shapes, naming both', () => {
    const bad = withNodes([
      { name: 'fc', layer: { type: 'Linear', in_features: 5, out_features: 4 }, inputs: ['input'] },
      { name: 'add', op: 'Add', inputs: ['fc', 'input'] },
      { name: 'head', layer: { type: 'Linear', in_features: 4, out_features: 3 }, inputs: ['add'] },
    ]);
    expect(() => buildNetwork(parseModelSpec(bad), randomWeights(parseModelSpec(bad), mulberry32(1)))).toThrow(ShapeError);
    expect(() => buildNetwork(parseModelSpec(bad), randomWeights(parseModelSpec(bad), mulberry32(1)))).toThrow(/Add needs inputs of one shape, got \[N, 4\] and \[N, 5\]/);
  });
  it('an unknown layer type inside a node lists the supported ones', () => {
    expect(() => parseModelSpec(withNodes([{ name: 'head', layer: { type: 'Swish' }, inputs: ['input'] }]))).toThrow(/unknown layer type "Swish"/);
  });
});

describe.each([
  ['residual MLP, MSE', residual('MSELoss')],
  ['residual MLP, CE', residual('CrossEntropyLoss')],
  ['residual MLP, BCE', residual('BCEWithLogitsLoss')],
  ['branching CNN, CE', branching],
])('%s', (_name, spec) => {
  const net = network(spec, 7);
  const { inputs, targets } = randomBatch(net, 4, mulberry32(3));

  it('per-sample gradients equal autodiff through the graph', () => {
    const run = runBatch(net, inputs, targets, { extensions: ['BatchGrad', 'BatchL2Grad', 'SumGradSquared', 'Variance'] });
    const oracle = autodiffPerSample(net, inputs, targets);
    expect(Math.abs(run.loss - oracle.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(oracle.loss)));
    for (const p of net.paramNames) {
      const e = expectedQuantities(oracle.grads.get(p)!);
      expectClose(run.results.get(`${p}.grad`)!.data as Float32Array, e.grad, { rtol: 1e-4, atol: 1e-7, label: `${p}.grad` });
      expectClose(run.results.get(`${p}.grad_batch`)!.data as Float32Array, e.gradBatch, { rtol: 1e-4, atol: 1e-7, label: `${p}.grad_batch` });
      expectClose(run.results.get(`${p}.batch_l2`)!.data as Float32Array, e.batchL2, { rtol: 1e-4, atol: 1e-10, label: `${p}.batch_l2` });
    }
  });

  it('DiagGGNExact and SqrtGGNExact equal Σ_n J_nᵀ ρH J_n from autodiff Jacobians', () => {
    const run = runBatch(net, inputs, targets, { extensions: ['DiagGGNExact', 'SqrtGGNExact'] });
    const samples = ggnOracle(net, inputs, targets);
    for (const p of net.paramNames) {
      const G = sumAll(samples.map((s) => ggnBlock(s, p)));
      expectClose(run.results.get(`${p}.diag_ggn_exact`)!.data as Float32Array, diagonal(G), { rtol: 1e-4, atol: 1e-8, label: `${p}.diag_ggn_exact` });
      // Σ_c Σ_n Q_cn² per element is the same diagonal.
      const Q = run.results.get(`${p}.sqrt_ggn_exact`)!;
      const P = G.length ** 0.5;
      const fromQ = new Float64Array(P);
      const q = Q.data as Float32Array;
      for (let i = 0; i < q.length; i++) fromQ[i % P] += q[i] * q[i];
      expectClose(fromQ, diagonal(G), { rtol: 1e-4, atol: 1e-8, label: `${p} from sqrt` });
    }
  });

  it('DiagHessian equals the autodiff Hessian diagonal (residual terms summed over branches)', () => {
    const run = runBatch(net, inputs, targets, { extensions: ['DiagHessian'] });
    const H = hessianOracle(net, inputs, targets);
    for (const p of net.paramNames) {
      expectClose(run.results.get(`${p}.diag_h`)!.data as Float32Array, diagonal(sumAll(H.get(p)!)), { rtol: 1e-4, atol: 1e-8, label: `${p}.diag_h` });
    }
  });

  it('sharding does not change the result', () => {
    const exts = ['BatchGrad', 'DiagGGNExact', 'DiagHessian'] as const;
    const one = runBatch(net, inputs, targets, { extensions: [...exts] });
    const many = runBatch(net, inputs, targets, { extensions: [...exts], shardSize: 1 });
    for (const [k, t] of one.results) expectClose(many.results.get(k)!.data as Float32Array, t.data as Float32Array, { rtol: 1e-6, label: k });
  });

  it('KFRA is refused with the reason', () => {
    expect(() => runBatch(net, inputs, targets, { extensions: ['KFRA'] })).toThrow(UnsupportedModuleError);
    expect(() => runBatch(net, inputs, targets, { extensions: ['KFRA'] })).toThrow(/branch point/);
  });
});
