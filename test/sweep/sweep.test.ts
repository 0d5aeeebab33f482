/**
 * Sweeps against the direct computation: each per-batch row and tensor is BackPACK on that batch
 * (runBatch), the accumulated result is one batch of all N samples (bitwise, same shard plan), and
 * the row summaries are recomputed here from the tensors by hand.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { sliceRows } from '../../src/core/inputs.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { readTensorFile, readTensorMap } from '../../src/io/tensor-file.ts';
import { buildNetwork, disposeNetwork, type Network } from '../../src/nn/network.ts';
import { runSweep, type SweepRow } from '../../src/sweep/index.ts';
import { unitDir } from '../../src/sweep/output.ts';
import { readSweepSpec } from '../../src/sweep/spec.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { exampleSweep, tempDir } from './helpers.ts';

const QUANTITIES = ['Variance', 'BatchL2Grad', 'GradientNoiseScale', 'DiagGGNExact', 'SumGradSquared'];
const N = 80; // batches of 32: 32, 32, 16

const tmp = tempDir('bp-sweep-');
let file: string;
let inputs: HostTensor;
let targets: HostTensor;
let net: Network;

beforeAll(async () => {
  file = await exampleSweep(tmp.dir, { batchSizes: [32], quantities: QUANTITIES, options: { mode: 'both', workers: 0, topK: 3, format: ['jsonl', 'csv'], out: 'out-both' } }, N);
  await useBackend('wasm');
  inputs = await readTensorFile(path.join(tmp.dir, 'data', 'inputs.npy'));
  targets = await readTensorFile(path.join(tmp.dir, 'data', 'targets.npy'));
  const spec = (await readSweepSpec(file)).model;
  net = buildNetwork(spec, await readTensorMap(path.join(tmp.dir, 'checkpoints', 'step-40.safetensors')));
});
afterAll(() => {
  disposeNetwork(net);
  tmp.cleanup();
});

const sum = (t: HostTensor | undefined) => Array.from(t!.data as Float32Array).reduce((a, b) => a + b, 0);
const PARAMS = ['0.weight', '0.bias', '2.weight', '2.bias'];

/** The row summaries, recomputed from a result map without the sweep's code. */
function expectRowMatches(row: SweepRow, r: Map<string, HostTensor>, loss: number) {
  expect(row.loss).toBeCloseTo(loss, 12);
  const gradSq = PARAMS.reduce((a, p) => a + Array.from(r.get(`${p}.grad`)!.data as Float32Array).reduce((s, v) => s + v * v, 0), 0);
  expect(row.grad_norm).toBeCloseTo(Math.sqrt(gradSq), 10);
  expect(row.variance_trace).toBeCloseTo(PARAMS.reduce((a, p) => a + sum(r.get(`${p}.variance`)), 0), 12);
  expect(row.sum_grad_squared_trace).toBeCloseTo(PARAMS.reduce((a, p) => a + sum(r.get(`${p}.sum_grad_squared`)), 0), 12);
  expect(row.ggn_trace_exact).toBeCloseTo(PARAMS.reduce((a, p) => a + sum(r.get(`${p}.diag_ggn_exact`)), 0), 10);
  expect(row.gns ?? NaN).toBe(r.get('gradient_noise_scale')!.data[0]);
  expect(row.gns_trace_cov).toBe(r.get('gradient_noise_scale.trace_cov')!.data[0]);
  // Per-sample norms: √Σ_params batch_l2, then numpy-style linear quantiles.
  const B = r.get('0.weight.batch_l2')!.shape[0];
  const norms = Array.from({ length: B }, (_, n) => Math.sqrt(PARAMS.reduce((a, p) => a + (r.get(`${p}.batch_l2`)!.data[n] as number), 0))).sort((a, b) => a - b);
  const q = (p: number) => {
    const at = (B - 1) * p;
    const lo = Math.floor(at);
    return norms[lo] + (norms[Math.min(lo + 1, B - 1)] - norms[lo]) * (at - lo);
  };
  expect(row.sample_grad_norm_p10).toBeCloseTo(q(0.1), 12);
  expect(row.sample_grad_norm_p50).toBeCloseTo(q(0.5), 12);
  expect(row.sample_grad_norm_p90).toBeCloseTo(q(0.9), 12);
  // Top-3 |diag GGN| over all parameters, by sorting everything.
  const all = PARAMS.flatMap((p) => Array.from(r.get(`${p}.diag_ggn_exact`)!.data as Float32Array).map((value, flat) => ({ p, flat, value })));
  const top = all.sort((a, b) => Math.abs(b.value) - Math.abs(a.value)).slice(0, 3);
  expect(row.topk_diag_ggn_exact!.map((t) => [t.param, t.value])).toEqual(top.map((t) => [t.p, t.value]));
  const shape = r.get(`${top[0].p}.diag_ggn_exact`)!.shape;
  const [i0] = row.topk_diag_ggn_exact!;
  expect(i0.index.reduce((flat, i, a) => flat * shape[a] + i, 0)).toBe(top[0].flat);
}

describe('sweep (in process)', () => {
  it('per-batch rows and tensors are BackPACK on each batch; the accumulated ones are one batch of N, bitwise', async () => {
    const spec = await readSweepSpec(file);
    const s = await runSweep(spec, {});
    expect(s.units).toBe(2);
    const unit = 'step-40--b32--blobs';
    const rows = s.rows.filter((r) => r.unit === unit);
    expect(rows.map((r) => [r.batch, r.samples, r.first_sample])).toEqual([[0, 32, 0], [1, 32, 32], [2, 16, 64], ['all', N, 0]]);
    const tensors = await readTensorMap(path.join(unitDir(s.out, unit), 'results.safetensors'));
    const opts = { extensions: spec.quantities, seed: 0 };
    for (const [k, start, count] of [[0, 0, 32], [1, 32, 32], [2, 64, 16]]) {
      const r = runBatch(net, sliceRows(inputs, start, count), sliceRows(targets, start, count), { ...opts, shardSize: count });
      expectRowMatches(rows[k], r.results, r.loss);
      for (const [key, t] of r.results) expect(tensors.get(`batch-${String(k).padStart(5, '0')}/${key}`)!.data, key).toEqual(t.data);
    }
    const whole = runBatch(net, inputs, targets, { ...opts, shardSize: 32 });
    expectRowMatches(rows[3], whole.results, whole.loss);
    for (const [key, t] of whole.results) expect(tensors.get(key)!.data, key).toEqual(t.data);
    // CSV: a header and one line per row; nested top-k as quoted JSON.
    const csv = readFileSync(path.join(s.out, 'rows.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(1 + s.rows.length);
    expect(csv[0].split(',').slice(0, 9)).toEqual(['unit', 'checkpoint', 'checkpoint_index', 'dataset', 'batch_size', 'batch', 'samples', 'first_sample', 'loss']);
    expect(csv[1]).toContain('"[{""param"":');
  });

  it('maxBatches: the accumulation covers the first K batches (N = K·B)', async () => {
    const spec = await readSweepSpec(file);
    spec.options = { ...spec.options, mode: 'accumulate', maxBatches: 2 };
    const s = await runSweep(spec, { out: path.join(tmp.dir, 'out-k2') });
    const row = s.rows.find((r) => r.checkpoint === 'step-40')!;
    expect([row.batch, row.samples]).toEqual(['all', 64]);
    const r = runBatch(net, sliceRows(inputs, 0, 64), sliceRows(targets, 0, 64), { extensions: spec.quantities, shardSize: 32 });
    expectRowMatches(row, r.results, r.loss);
  });

  it('shuffle changes the batches, not the accumulated pass (up to float summation order)', async () => {
    const spec = await readSweepSpec(file);
    spec.options = { ...spec.options, shuffle: true, seed: 5 };
    const s = await runSweep(spec, { out: path.join(tmp.dir, 'out-shuffled') });
    const plain = (await readFileSync(path.join(tmp.dir, 'out-both', 'rows.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as SweepRow);
    const pick = (rows: SweepRow[], batch: number | 'all') => rows.find((r) => r.checkpoint === 'step-40' && r.batch === batch)!;
    expect(pick(s.rows, 0).loss).not.toBeCloseTo(pick(plain, 0).loss, 6);
    for (const key of ['loss', 'grad_norm', 'variance_trace', 'gns', 'ggn_trace_exact', 'sample_grad_norm_p50'] as const) {
      expect(pick(s.rows, 'all')[key] as number, key).toBeCloseTo(pick(plain, 'all')[key] as number, 5);
    }
  });

  it('a worker pool gives the in-process results (different shard plan: to float tolerance)', async () => {
    const spec = await readSweepSpec(file);
    const s = await runSweep(spec, { out: path.join(tmp.dir, 'out-pool'), workers: 2 });
    const a = await readTensorMap(path.join(unitDir(s.out, 'step-0--b32--blobs'), 'results.safetensors'));
    const b = await readTensorMap(path.join(unitDir(path.join(tmp.dir, 'out-both'), 'step-0--b32--blobs'), 'results.safetensors'));
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [key, t] of a) expectClose(t.data as Float32Array, b.get(key)!.data as Float32Array, { rtol: 1e-5, atol: 0 });
  });
});
