/**
 * Shard, then reduce: any shard plan gives the results of one whole-batch shard (partials are
 * sufficient statistics, ρ uses the global N, randomness is keyed by global sample index), a fixed
 * plan is bitwise reproducible whatever the arrival order, and a shard delivered twice counts once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, randomBatch, randomNetwork, specWithLoss, values, type OracleCase } from '../helpers/oracle.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { runBatch, type RunResult } from '../../src/api/run.ts';
import { computeShard, planShards } from '../../src/core/backprop.ts';
import { sliceRows } from '../../src/core/inputs.ts';
import { useBackend } from '../../src/backends/select.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { disposeNetwork, type Network } from '../../src/nn/network.ts';
import { finalize } from '../../src/extensions/finalize.ts';
import { mergePartials } from '../../src/reduce/merge.ts';
import type { ShardPartials } from '../../src/core/partials.ts';
import type { ExtensionName, LossKind, Reduction } from '../../src/vocabulary.ts';

const EXTENSIONS: ExtensionName[] = ['BatchGrad', 'BatchL2Grad', 'SumGradSquared', 'Variance'];
const N = 7;
const RTOL = 1e-6;
const SEED = 11;

const NETS: Record<string, OracleCase & { loss: [LossKind, Reduction] }> = {
  // Train-mode Dropout: its masks must not depend on which shard a sample lands in.
  MLP: {
    input_shape: [6],
    layers: [
      { type: 'Linear', in_features: 6, out_features: 8 },
      { type: 'Tanh' },
      { type: 'Dropout', p: 0.3, train: true },
      { type: 'Linear', in_features: 8, out_features: 4 },
    ],
    loss: ['CrossEntropyLoss', 'mean'],
  },
  CNN: {
    input_shape: [2, 6, 6],
    layers: [
      { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 3, padding: 1 },
      { type: 'BatchNorm2d', num_features: 3 },
      { type: 'ReLU' },
      { type: 'MaxPool2d', kernel_size: 2 },
      { type: 'Conv2d', in_channels: 3, out_channels: 2, kernel_size: 2 },
      { type: 'Flatten' },
      { type: 'Linear', in_features: 8, out_features: 3 },
    ],
    loss: ['BCEWithLogitsLoss', 'mean'],
  },
};

function setup(name: string): { net: Network; inputs: HostTensor; targets: HostTensor } {
  const c = NETS[name];
  const rng = mulberry32(321);
  const net = randomNetwork(specWithLoss(c, c.loss[0], c.loss[1], false), rng);
  return { net, ...randomBatch(net, N, rng) };
}

/** Every key of `b` matches `a` within rtol·max|a| (variance judged on the scale of its terms). */
function expectSameResults(a: RunResult, b: RunResult, label: string) {
  expect([...b.results.keys()].sort(), label).toEqual([...a.results.keys()].sort());
  expect(Math.abs(b.loss - a.loss), `${label}: loss ${b.loss} vs ${a.loss}`).toBeLessThanOrEqual(RTOL * Math.abs(a.loss));
  for (const [key, expected] of a.results) {
    const actual = b.results.get(key)!;
    expect(actual.shape, `${label} ${key} shape`).toEqual(expected.shape);
    let atol = 0;
    if (key.endsWith('.variance')) atol = (RTOL * maxAbs(values(a.results.get(key.replace(/variance$/, 'sum_grad_squared'))))) / N;
    expectClose(values(actual), values(expected), { rtol: RTOL, atol, label: `${label} ${key}` });
  }
}

function expectBitwiseEqual(a: RunResult, b: RunResult, label: string) {
  expect(b.loss, `${label}: loss`).toBe(a.loss);
  expect([...b.results.keys()]).toEqual([...a.results.keys()]);
  for (const [key, t] of a.results) {
    const u = b.results.get(key)!;
    expect(u.shape, `${label} ${key}`).toEqual(t.shape);
    expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${label} ${key}: bitwise`).toBe(true);
  }
}

describe.each(['cpu', 'wasm'])('shard then reduce on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe.each(Object.keys(NETS))('%s', (name) => {
    it('1, 2, 3 and N shards give the results of one shard', () => {
      const { net, inputs, targets } = setup(name);
      try {
        const whole = runBatch(net, inputs, targets, { extensions: EXTENSIONS, seed: SEED, shardSize: N });
        expect(whole.shards).toBe(1);
        for (const [size, shards] of [[Math.ceil(N / 2), 2], [Math.ceil(N / 3), 3], [1, N]]) {
          const split = runBatch(net, inputs, targets, { extensions: EXTENSIONS, seed: SEED, shardSize: size });
          expect(split.shards).toBe(shards);
          expectSameResults(whole, split, `shardSize ${size}`);
        }
      } finally {
        disposeNetwork(net);
      }
    });

    it('the same shard size twice gives bitwise-identical results', () => {
      const { net, inputs, targets } = setup(name);
      try {
        for (const size of [N, 3, 1]) {
          const a = runBatch(net, inputs, targets, { extensions: EXTENSIONS, seed: SEED, shardSize: size });
          const b = runBatch(net, inputs, targets, { extensions: EXTENSIONS, seed: SEED, shardSize: size });
          expectBitwiseEqual(a, b, `shardSize ${size}`);
        }
      } finally {
        disposeNetwork(net);
      }
    });

    it('partials merged in any arrival order, one shard delivered twice, equal the in-order merge bitwise', () => {
      const { net, inputs, targets } = setup(name);
      try {
        const plan = planShards(N, 3);
        const partials = plan.map((s, shardId) =>
          computeShard(net, {
            shardId,
            inputs: sliceRows(inputs, s.offset, s.count),
            targets: sliceRows(targets, s.offset, s.count),
            offset: s.offset,
            N,
            extensions: EXTENSIONS,
            seed: SEED,
          }),
        );
        const opts = { N, paramNames: net.paramNames, extensions: EXTENSIONS, reduction: net.loss.reduction };
        const inOrder = mergePartials(partials);
        const shuffled = mergePartials([partials[2], partials[0], partials[1], partials[0]]);
        expect(shuffled.count).toBe(N);
        expect(shuffled.loss).toBe(inOrder.loss);
        const asRun = (m: typeof inOrder): RunResult => ({ loss: m.loss, N, results: finalize(m, opts), shards: plan.length, timings: { computeMs: 0, reduceMs: 0 } });
        expectBitwiseEqual(asRun(inOrder), asRun(shuffled), 'arrival order');
        // And the same as runBatch with this plan.
        expectBitwiseEqual(runBatch(net, inputs, targets, { extensions: EXTENSIONS, seed: SEED, shardSize: 3 }), asRun(inOrder), 'runBatch');
      } finally {
        disposeNetwork(net);
      }
    });
  });
});

describe('mergePartials', () => {
  const shard = (shardId: number, offset: number, rows: number[][], sum: number[], loss: number): ShardPartials => ({
    shardId,
    offset,
    count: rows.length,
    loss,
    entries: {
      '0.weight.grad': { kind: 'sum', shape: [sum.length], data: Float64Array.from(sum) },
      '0.weight.grad_batch': { kind: 'rows', rowShape: [rows[0].length], index: Int32Array.from(rows, (_, i) => offset + i), data: Float32Array.from(rows.flat()) },
    },
  });
  const s0 = () => shard(0, 0, [[1, 2], [3, 4]], [4, 6], 0.5);
  const s1 = () => shard(1, 2, [[5, 6]], [5, 6], 0.25);

  it('counts a shard delivered twice (same shardId) once', () => {
    const m = mergePartials([s0(), s1(), s1()]);
    expect(m.count).toBe(3);
    expect(m.loss).toBe(0.75);
    const sum = m.entries['0.weight.grad'];
    const rows = m.entries['0.weight.grad_batch'];
    expect(sum.kind === 'sum' && Array.from(sum.data)).toEqual([9, 12]);
    expect(rows.kind === 'rows' && Array.from(rows.index)).toEqual([0, 1, 2]);
    expect(rows.kind === 'rows' && Array.from(rows.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('combines in shard order whatever the arrival order, and a duplicate arriving first changes nothing', () => {
    const m = mergePartials([s1(), s1(), s0()]);
    expect(m.count).toBe(3);
    expect(m.loss).toBe(0.75);
    const rows = m.entries['0.weight.grad_batch'];
    expect(rows.kind === 'rows' && Array.from(rows.index)).toEqual([0, 1, 2]);
    const res = finalize(m, { N: 3, paramNames: ['0.weight'], extensions: ['BatchGrad'], reduction: 'mean' });
    expect(Array.from(values(res.get('0.weight.grad')))).toEqual([9, 12]);
    expect(res.get('0.weight.grad_batch')!.shape).toEqual([3, 2]);
    expect(Array.from(values(res.get('0.weight.grad_batch')))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('does not modify the partials it is given', () => {
    const a = s0();
    const b = s1();
    mergePartials([a, b]);
    const again = mergePartials([a, b]);
    const first = a.entries['0.weight.grad'];
    expect(first.kind === 'sum' && Array.from(first.data)).toEqual([4, 6]);
    const sum = again.entries['0.weight.grad'];
    expect(sum.kind === 'sum' && Array.from(sum.data)).toEqual([9, 12]);
  });
});
