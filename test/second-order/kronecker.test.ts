/**
 * Kronecker factors (KFLR, KFRA, KFAC) against closed forms and independent constructions:
 *  - a single Linear layer: A = (1/N) Σ x xᵀ and B = Σ_n ρ ∇²_f ℓ_n (CE: diag(p) − ppᵀ, MSE: 2I,
 *    BCE: diag(σ(1−σ))), computed here in float64 from the weights;
 *  - a single Conv2d: A = (1/N) Σ_n Σ_p u_np u_npᵀ from an im2col written below in plain loops,
 *    B = 2ρ·N·P·I for MSE;
 *  - KFRA on deeper networks vs its recursion with autodiff Jacobians, and sharded = unsharded;
 *  - KFLR's B is the exact GGN block of the layer's bias (BackPACK's convention: the factor is summed
 *    over output positions before the outer product), for Linear, Linear with leading dims and Conv2d;
 *  - ConvTranspose1d/2d/3d (BackPACK's convention: factors of the weight with its channel axes
 *    swapped): A from the autodiff weight Jacobian of each output position, B as for Conv;
 *  - the modules without a Kronecker structure are refused with a reason.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { f32, mulberry32, randn, randomBatch, randomNetwork, values } from '../helpers/oracle.ts';
import { ggnBlock, ggnOracle, kfraOracle, sumAll } from '../helpers/second-order-oracle.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { UnsupportedModuleError } from '../../src/errors/index.ts';
import { numel, type HostTensor } from '../../src/io/host-tensor.ts';
import { disposeNetwork, type Network } from '../../src/nn/network.ts';
import { LOSS_KINDS, REDUCTIONS, type ExtensionName, type LossKind, type Reduction } from '../../src/vocabulary.ts';

/** float32 results vs float64 closed forms of a one-layer network: rounding is ~1e-7 relative. */
const RTOL = 1e-5;
/** KFRA through several layers, vs an autodiff recursion in float64 from float32 Jacobians. */
const RTOL_DEEP = 1e-4;
const N = 5;

const lin = (i: number, o: number) => ({ type: 'Linear', in_features: i, out_features: o });

beforeAll(async () => {
  await useBackend('cpu');
});

function withNet<T>(spec: unknown, seed: number, body: (net: Network, inputs: HostTensor, targets: HostTensor) => T): T {
  const rng = mulberry32(seed);
  const net = randomNetwork(spec, rng);
  try {
    const { inputs, targets } = randomBatch(net, N, rng);
    return body(net, inputs, targets);
  } finally {
    disposeNetwork(net);
  }
}

const paramValues = (net: Network, key: string) => {
  const [i, p] = key.split('.');
  return Float64Array.from(net.layers[Number(i)].params[p as 'weight' | 'bias']!.dataSync());
};

/** Σ_n ρ ∇²_f ℓ_n of a single Linear layer, in float64 from its weights: [O, O]. */
function linearOutputHessian(net: Network, inputs: HostTensor, targets: HostTensor, loss: LossKind, reduction: Reduction): Float64Array {
  const W = paramValues(net, '0.weight');
  const b = paramValues(net, '0.bias');
  const [O, I] = net.paramShapes['0.weight'];
  const x = values(inputs);
  const rho = reduction === 'sum' ? 1 : loss === 'CrossEntropyLoss' ? 1 / N : 1 / (N * O);
  const B = new Float64Array(O * O);
  for (let n = 0; n < N; n++) {
    const f = Array.from({ length: O }, (_, o) => b[o] + W.subarray(o * I, (o + 1) * I).reduce((s, w, i) => s + w * x[n * I + i], 0));
    for (let a = 0; a < O; a++) {
      for (let c = 0; c < O; c++) {
        let h = 0;
        if (loss === 'CrossEntropyLoss') {
          const m = Math.max(...f);
          const z = f.reduce((s, v) => s + Math.exp(v - m), 0);
          const p = f.map((v) => Math.exp(v - m) / z);
          h = (a === c ? p[a] : 0) - p[a] * p[c];
        } else if (loss === 'MSELoss') {
          h = a === c ? 2 : 0;
        } else {
          const s = 1 / (1 + Math.exp(-f[a]));
          h = a === c ? s * (1 - s) : 0;
        }
        B[a * O + c] += rho * h;
      }
    }
  }
  return B;
}

/** (1/N) Σ_n x_n x_nᵀ: [I, I]. */
function inputSecondMoment(inputs: HostTensor): Float64Array {
  const I = numel(inputs.shape.slice(1));
  const x = values(inputs);
  const A = new Float64Array(I * I);
  for (let n = 0; n < N; n++) for (let i = 0; i < I; i++) for (let j = 0; j < I; j++) A[i * I + j] += (x[n * I + i] * x[n * I + j]) / N;
  return A;
}

describe('single Linear layer: closed forms', () => {
  const combos = LOSS_KINDS.flatMap((l) => REDUCTIONS.map((r) => [l, r] as [LossKind, Reduction]));
  it.each(combos)('%s (%s): KFLR, KFRA and KFAC.A', (loss, reduction) => {
    const spec = { input_shape: [4], layers: [lin(4, 3)], loss: { type: loss, reduction } };
    withNet(spec, 31 + combos.findIndex(([l, r]) => l === loss && r === reduction), (net, inputs, targets) => {
      const B = linearOutputHessian(net, inputs, targets, loss, reduction);
      const A = inputSecondMoment(inputs);
      const run = runBatch(net, inputs, targets, { extensions: ['KFLR', 'KFRA', 'KFAC'] }).results;
      for (const q of ['kflr', 'kfra']) {
        expect(run.get(`0.weight.${q}.0`)!.shape).toEqual([3, 3]);
        expect(run.get(`0.weight.${q}.1`)!.shape).toEqual([4, 4]);
        expect(run.has(`0.bias.${q}.1`)).toBe(false);
        expectClose(values(run.get(`0.weight.${q}.0`)), B, { rtol: RTOL, label: `0.weight.${q}.0` });
        expectClose(values(run.get(`0.bias.${q}.0`)), B, { rtol: RTOL, label: `0.bias.${q}.0` });
        expectClose(values(run.get(`0.weight.${q}.1`)), A, { rtol: RTOL, label: `0.weight.${q}.1` });
      }
      expectClose(values(run.get('0.weight.kfac.1')), A, { rtol: RTOL, label: '0.weight.kfac.1' });
    });
  });
});

/** torch's unfold by plain loops: x [C, H, W] → u [C·kh·kw, P] (rows channel-major, then kernel row, column). */
function im2col(x: Float64Array, C: number, H: number, W: number, k: number[], stride: number[], pad: number[], dil: number[]): { U: Float64Array; rows: number; P: number } {
  const Ho = Math.floor((H + 2 * pad[0] - dil[0] * (k[0] - 1) - 1) / stride[0]) + 1;
  const Wo = Math.floor((W + 2 * pad[1] - dil[1] * (k[1] - 1) - 1) / stride[1]) + 1;
  const rows = C * k[0] * k[1];
  const P = Ho * Wo;
  const U = new Float64Array(rows * P);
  for (let c = 0; c < C; c++) {
    for (let a = 0; a < k[0]; a++) {
      for (let b = 0; b < k[1]; b++) {
        const r = (c * k[0] + a) * k[1] + b;
        for (let i = 0; i < Ho; i++) {
          for (let j = 0; j < Wo; j++) {
            const h = i * stride[0] - pad[0] + a * dil[0];
            const w = j * stride[1] - pad[1] + b * dil[1];
            U[r * P + i * Wo + j] = h >= 0 && h < H && w >= 0 && w < W ? x[(c * H + h) * W + w] : 0;
          }
        }
      }
    }
  }
  return { U, rows, P };
}

describe('single Conv2d: KFLR against an explicit im2col', () => {
  it.each(REDUCTIONS)('MSE (%s): A = (1/N) Σ_n Σ_p u uᵀ, B = 2ρ·N·P·I', (reduction) => {
    const conv = { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: [2, 3], stride: [2, 1], padding: [1, 0], dilation: [1, 2] };
    const spec = { input_shape: [2, 5, 7], layers: [conv], loss: { type: 'MSELoss', reduction } };
    withNet(spec, reduction === 'sum' ? 41 : 42, (net, inputs, targets) => {
      const x = values(inputs);
      const per = 2 * 5 * 7;
      let A: Float64Array | undefined;
      let P = 0;
      for (let n = 0; n < N; n++) {
        const u = im2col(x.subarray(n * per, (n + 1) * per), 2, 5, 7, [2, 3], [2, 1], [1, 0], [1, 2]);
        P = u.P;
        A ??= new Float64Array(u.rows * u.rows);
        for (let i = 0; i < u.rows; i++) for (let j = 0; j < u.rows; j++) {
          let s = 0;
          for (let p = 0; p < u.P; p++) s += u.U[i * u.P + p] * u.U[j * u.P + p];
          A[i * u.rows + j] += s / N;
        }
      }
      expect(net.outputShape).toEqual([3, 3, 3]);
      expect(P).toBe(9);
      const rho = reduction === 'sum' ? 1 : 1 / (N * numel(net.outputShape));
      const B = Float64Array.from({ length: 9 }, (_, j) => (j % 4 === 0 ? 2 * rho * N * P : 0));
      const run = runBatch(net, inputs, targets, { extensions: ['KFLR'] }).results;
      expect(run.get('0.weight.kflr.1')!.shape).toEqual([12, 12]);
      expectClose(values(run.get('0.weight.kflr.1')), A!, { rtol: RTOL, label: '0.weight.kflr.1' });
      expectClose(values(run.get('0.weight.kflr.0')), B, { rtol: RTOL, label: '0.weight.kflr.0' });
      expectClose(values(run.get('0.bias.kflr.0')), B, { rtol: RTOL, label: '0.bias.kflr.0' });
    });
  });
});

describe("KFLR's B equals the exact GGN block of the bias (autodiff Jacobians)", () => {
  const nets: Record<string, { input_shape: number[]; layers: Record<string, unknown>[]; loss: { type: LossKind; reduction: Reduction } }> = {
    'MLP (ELU), CE mean': { input_shape: [4], layers: [lin(4, 5), { type: 'ELU' }, lin(5, 3)], loss: { type: 'CrossEntropyLoss', reduction: 'mean' } },
    'Linear with leading dims [3, 4], Tanh, Flatten, Linear, CE sum': {
      input_shape: [3, 4],
      layers: [lin(4, 2), { type: 'Tanh' }, { type: 'Flatten' }, lin(6, 3)],
      loss: { type: 'CrossEntropyLoss', reduction: 'sum' },
    },
    'Linear with leading dims, BCE mean (2-D output)': { input_shape: [2, 3], layers: [lin(3, 4), { type: 'Sigmoid' }, lin(4, 2)], loss: { type: 'BCEWithLogitsLoss', reduction: 'mean' } },
    'CNN (Conv1d, Tanh, Conv1d), K-dimensional CE mean': {
      input_shape: [2, 5],
      layers: [{ type: 'Conv1d', in_channels: 2, out_channels: 3, kernel_size: 2 }, { type: 'Tanh' }, { type: 'Conv1d', in_channels: 3, out_channels: 3, kernel_size: 2 }],
      loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
    },
    'CNN (Conv2d, Sigmoid, Conv2d), MSE sum': {
      input_shape: [2, 4, 4],
      layers: [{ type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 2, padding: 1 }, { type: 'Sigmoid' }, { type: 'Conv2d', in_channels: 3, out_channels: 2, kernel_size: 3, stride: 2 }],
      loss: { type: 'MSELoss', reduction: 'sum' },
    },
  };
  it.each(Object.keys(nets))('%s', (name) => {
    withNet(nets[name], 21 + Object.keys(nets).indexOf(name), (net, inputs, targets) => {
      const run = runBatch(net, inputs, targets, { extensions: ['KFLR'] }).results;
      const oracle = ggnOracle(net, inputs, targets);
      for (const p of net.paramNames.filter((q) => q.endsWith('.bias'))) {
        const B = sumAll(oracle.map((s) => ggnBlock(s, p)));
        expectClose(values(run.get(`${p}.kflr.0`)), B, { rtol: RTOL_DEEP, label: `${name} ${p}.kflr.0` });
        expectClose(values(run.get(`${p.replace('bias', 'weight')}.kflr.0`)), B, { rtol: RTOL_DEEP, label: `${name} weight kflr.0` });
      }
    });
  });
});

describe('modules without Kronecker structure are refused with a reason', () => {
  const cases: [string, { input_shape: number[]; layers: Record<string, unknown>[] }, RegExp][] = [
    ['grouped Conv2d', { input_shape: [2, 4, 4], layers: [{ type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 2, groups: 2 }, { type: 'Flatten' }, lin(18, 3)] }, /Conv2d \(layer '0'\): grouped convolutions/],
    ['grouped ConvTranspose1d', { input_shape: [2, 3], layers: [{ type: 'ConvTranspose1d', in_channels: 2, out_channels: 2, kernel_size: 2, groups: 2 }, { type: 'Flatten' }, lin(8, 3)] }, /ConvTranspose1d \(layer '0'\): grouped transposed convolutions/],
    ['BatchNorm1d', { input_shape: [4], layers: [lin(4, 3), { type: 'BatchNorm1d', num_features: 3 }] }, /BatchNorm1d \(layer '1'\): no Kronecker factorisation .*BatchNorm/],
    ['LayerNorm', { input_shape: [4], layers: [lin(4, 3), { type: 'LayerNorm', normalized_shape: 3 }] }, /LayerNorm \(layer '1'\): no Kronecker factorisation .*elementwise scale/],
    ['GroupNorm', { input_shape: [2, 3], layers: [{ type: 'GroupNorm', num_groups: 1, num_channels: 2 }, { type: 'Flatten' }, lin(6, 3)] }, /GroupNorm \(layer '0'\): no Kronecker factorisation .*elementwise scale/],
  ];
  const quantities: ExtensionName[] = ['KFAC', 'KFLR', 'KFRA'];
  it.each(cases.flatMap(([name, body, why]) => quantities.map((q) => [q, name, body, why] as const)))('%s on %s', (q, _name, body, why) => {
    withNet({ ...body, loss: { type: 'CrossEntropyLoss' } }, 51, (net, inputs, targets) => {
      let err: unknown;
      try {
        runBatch(net, inputs, targets, { extensions: [q] });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsupportedModuleError);
      expect((err as Error).message).toMatch(new RegExp(`^${q} is not supported for `));
      expect((err as Error).message).toMatch(why);
    });
  });
});

describe('ConvTranspose1d/2d/3d: KFLR, KFAC, KFRA (factors of weight.transpose(0, 1), as BackPACK)', () => {
  const nets: Record<string, { input_shape: number[]; layers: Record<string, unknown>[]; loss: { type: LossKind; reduction: Reduction } }> = {
    'ConvTranspose1d (stride, padding), Tanh, Linear, CE mean': {
      input_shape: [2, 3],
      layers: [{ type: 'ConvTranspose1d', in_channels: 2, out_channels: 2, kernel_size: 3, stride: 2, padding: 1 }, { type: 'Tanh' }, { type: 'Flatten' }, lin(10, 3)],
      loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
    },
    'ConvTranspose2d (dilation, output_padding), Sigmoid, Linear, MSE sum': {
      input_shape: [2, 2, 2],
      layers: [{ type: 'ConvTranspose2d', in_channels: 2, out_channels: 3, kernel_size: 2, stride: 2, dilation: [1, 2], output_padding: 1 }, { type: 'Sigmoid' }, { type: 'Flatten' }, lin(90, 2)],
      loss: { type: 'MSELoss', reduction: 'sum' },
    },
    'ConvTranspose3d, BCE mean': {
      input_shape: [1, 2, 1, 2],
      layers: [{ type: 'ConvTranspose3d', in_channels: 1, out_channels: 2, kernel_size: 2 }],
      loss: { type: 'BCEWithLogitsLoss', reduction: 'mean' },
    },
  };

  /**
   * A = (1/N) Σ_n Σ_x u u ᵀ with u_nx[(c, k)] = ∂y_n[o, x]/∂W[c, o, k] for any output channel o (the
   * transposed unfold), read off the autodiff Jacobian of output channel 0.
   */
  function inputFactor(net: Network, inputs: HostTensor, targets: HostTensor): Float64Array {
    const [cin, coutG, ...kernel] = net.paramShapes['0.weight'];
    const K = numel(kernel);
    const X = numel(net.layers[0].outShape.slice(1));
    const P = cin * coutG * K;
    const A = new Float64Array((cin * K) ** 2);
    for (const s of ggnOracle(net, inputs, targets)) {
      const J = s.jac.get('0.weight')!; // [D, P], D starts with output channel 0's X positions when layer 0 is the last
      for (let x = 0; x < X; x++) {
        const u = Float64Array.from({ length: cin * K }, (_, ck) => J[x * P + Math.floor(ck / K) * coutG * K + (ck % K)]);
        for (let i = 0; i < u.length; i++) for (let j = 0; j < u.length; j++) A[i * u.length + j] += (u[i] * u[j]) / N;
      }
    }
    return A;
  }

  it.each(Object.keys(nets))('%s', (name) => {
    const spec = nets[name];
    withNet(spec, 71 + Object.keys(nets).indexOf(name), (net, inputs, targets) => {
      const run = runBatch(net, inputs, targets, { extensions: ['KFLR', 'KFAC', 'KFRA'], mcSamples: 2 }).results;
      const [cin, , ...kernel] = net.paramShapes['0.weight'];
      const cout = net.layers[0].outShape[0];
      expect(run.get('0.weight.kflr.0')!.shape).toEqual([cout, cout]);
      expect(run.get('0.weight.kflr.1')!.shape).toEqual([cin * numel(kernel), cin * numel(kernel)]);
      // A: the Jacobian of the transposed convolution alone (a network of just its first layer).
      const head = { input_shape: spec.input_shape, layers: [spec.layers[0]], loss: { type: 'MSELoss', reduction: 'sum' } };
      const alone = randomNetwork(head, mulberry32(5));
      try {
        alone.layers[0].params.weight!.dispose();
        alone.layers[0].params.weight = net.layers[0].params.weight!.clone();
        const A = inputFactor(alone, inputs, randomBatch(alone, N, mulberry32(6)).targets);
        for (const q of ['kflr', 'kfac', 'kfra']) expectClose(values(run.get(`0.weight.${q}.1`)), A, { rtol: RTOL_DEEP, label: `${name} ${q}.1` });
      } finally {
        disposeNetwork(alone);
      }
      // B: the exact GGN block of the bias (KFLR) and KFRA's autodiff recursion.
      const B = sumAll(ggnOracle(net, inputs, targets).map((s) => ggnBlock(s, '0.bias')));
      for (const p of ['0.weight', '0.bias']) expectClose(values(run.get(`${p}.kflr.0`)), B, { rtol: RTOL_DEEP, label: `${name} ${p}.kflr.0` });
      const kfra = kfraOracle(net, inputs, targets).get(0)!;
      expectClose(values(run.get('0.weight.kfra.0')), kfra, { rtol: RTOL_DEEP, label: `${name} kfra.0` });
    });
  });
});

describe('KFRA through deeper networks', () => {
  const nets: Record<string, { input_shape: number[]; layers: Record<string, unknown>[]; loss: { type: LossKind; reduction: Reduction } }> = {
    'MLP (Tanh, Sigmoid), CE mean': {
      input_shape: [4],
      layers: [lin(4, 5), { type: 'Tanh' }, lin(5, 4), { type: 'Sigmoid' }, lin(4, 3)],
      loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
    },
    'MLP (ELU), BCE sum': {
      input_shape: [3],
      layers: [lin(3, 4), { type: 'ELU' }, lin(4, 3)],
      loss: { type: 'BCEWithLogitsLoss', reduction: 'sum' },
    },
    'CNN (Conv2d, Tanh, MaxPool2d, Conv2d, Flatten, Linear), MSE mean': {
      input_shape: [1, 4, 4],
      layers: [
        { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 3, padding: 1 },
        { type: 'Tanh' },
        { type: 'MaxPool2d', kernel_size: 2 },
        { type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 2 },
        { type: 'Flatten' },
        lin(2, 2),
      ],
      loss: { type: 'MSELoss', reduction: 'mean' },
    },
    'Conv2d, Tanh, Conv2d, K-dimensional CE sum': {
      input_shape: [1, 3, 3],
      layers: [{ type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 2 }, { type: 'Tanh' }, { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 1 }],
      loss: { type: 'CrossEntropyLoss', reduction: 'sum' },
    },
    // Normalisation layers without affine parameters: KFRA passes through their per-sample Jacobians.
    'MLP (LayerNorm, Tanh), CE sum': {
      input_shape: [4],
      layers: [lin(4, 5), { type: 'LayerNorm', normalized_shape: 5, elementwise_affine: false }, { type: 'Tanh' }, lin(5, 3)],
      loss: { type: 'CrossEntropyLoss', reduction: 'sum' },
    },
    'Conv1d, GroupNorm, Flatten, Linear, MSE mean': {
      input_shape: [2, 4],
      layers: [{ type: 'Conv1d', in_channels: 2, out_channels: 4, kernel_size: 2 }, { type: 'GroupNorm', num_groups: 2, num_channels: 4, affine: false }, { type: 'Flatten' }, lin(12, 2)],
      loss: { type: 'MSELoss', reduction: 'mean' },
    },
  };

  it.each(Object.keys(nets))('%s: B per layer vs the autodiff recursion; A = (1/N) Σ x xᵀ (Linear)', (name) => {
    withNet(nets[name], 61 + Object.keys(nets).indexOf(name), (net, inputs, targets) => {
      const run = runBatch(net, inputs, targets, { extensions: ['KFRA'] }).results;
      const oracle = kfraOracle(net, inputs, targets);
      for (const p of net.paramNames) {
        const B = oracle.get(Number(p.split('.')[0]))!;
        expectClose(values(run.get(`${p}.kfra.0`)), B, { rtol: RTOL_DEEP, label: `${name} ${p}.kfra.0` });
      }
      // The first layer's A is the input's second moment.
      if (net.layers[0].kind === 'Linear') expectClose(values(run.get('0.weight.kfra.1')), inputSecondMoment(inputs), { rtol: RTOL, label: '0.weight.kfra.1' });
    });
  });

  it.each(Object.keys(nets))('%s: shard sizes 1, 2, 3 equal the unsharded result', (name) => {
    withNet(nets[name], 71 + Object.keys(nets).indexOf(name), (net, inputs, targets) => {
      const whole = runBatch(net, inputs, targets, { extensions: ['KFRA'] });
      for (const shardSize of [1, 2, 3]) {
        const sharded = runBatch(net, inputs, targets, { extensions: ['KFRA'], shardSize });
        expect(sharded.shards).toBe(Math.ceil(N / shardSize));
        expect([...sharded.results.keys()].sort()).toEqual([...whole.results.keys()].sort());
        // Per-shard float32 sums added in a different order: equal to rounding.
        for (const [key, t] of whole.results) expectClose(values(sharded.results.get(key)), values(t), { rtol: 1e-5, label: `${name} ${key} shard size ${shardSize}` });
      }
    });
  });
});

describe('KFLR vs KFRA on a single Linear', () => {
  it('the same A and B (with one layer KFRA backpropagates nothing)', () => {
    const spec = { input_shape: [4], layers: [lin(4, 2)], loss: { type: 'CrossEntropyLoss', reduction: 'sum' } };
    withNet(spec, 99, (net, _inputs, targets) => {
      const inputs = f32([N, 4], randn(mulberry32(100), N * 4, 3));
      const run = runBatch(net, inputs, targets, { extensions: ['KFLR', 'KFRA'] }).results;
      expectClose(values(run.get('0.weight.kfra.0')), values(run.get('0.weight.kflr.0')), { rtol: RTOL, label: 'B' });
      expectClose(values(run.get('0.weight.kfra.1')), values(run.get('0.weight.kflr.1')), { rtol: RTOL, label: 'A' });
    });
  });
});

describe('KFRA frees what it allocates', () => {
  it('runBatch with KFRA leaves no tensors behind', async () => {
    const { useBackend } = await import('../../src/backends/select.ts');
    const { tf } = await import('../../src/core/tf.ts');
    const { runBatch } = await import('../../src/api/run.ts');
    const { parseModelSpec } = await import('../../src/nn/parse-spec.ts');
    const { buildNetwork } = await import('../../src/nn/network.ts');
    const oracle = await import('../helpers/oracle.ts');
    await useBackend('wasm');
    const spec = parseModelSpec({ input_shape: [4], layers: [{ type: 'Linear', in_features: 4, out_features: 3 }, { type: 'Tanh' }, { type: 'Linear', in_features: 3, out_features: 2 }], loss: { type: 'CrossEntropyLoss' } });
    const net = buildNetwork(spec, oracle.randomWeights(spec, oracle.mulberry32(1)));
    const { inputs, targets } = oracle.randomBatch(net, 5, oracle.mulberry32(2));
    runBatch(net, inputs, targets, { extensions: ['KFRA'], shardSize: 2 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) runBatch(net, inputs, targets, { extensions: ['KFRA'], shardSize: 2 });
    expect(tf.memory().numTensors).toBe(before);
  });
});
