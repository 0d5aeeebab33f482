/**
 * Variance (and the gradient noise scale) when the variance is tiny next to the squared mean:
 * per-sample gradients c + ε·noise. Compared with float64 oracles, the relative error of every
 * element must be at the level of float32 round-off of the variance itself, with one shard and
 * sharded; a fixed shard plan must give bitwise-identical results on 1 or 3 workers.
 *
 * Two oracles: (1) a model whose per-sample gradients are exact in float32 (zero weights, inputs
 * of ones, MSE: g_n = −2ρ·y_n), so the variance follows from the targets alone, in float64;
 * (2) a Tanh MLP on near-identical inputs, judged against the float64 two-pass variance of the very
 * per-sample gradients the job computed (BatchGrad), which isolates the reduction's error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch, type RunResult } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { createPool } from '../../src/coordinator/create-pool.ts';
import type { WorkerPool } from '../../src/coordinator/pool.ts';
import { runJobOnPool } from '../../src/coordinator/run-job.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { buildNetwork, disposeNetwork, type Network } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { DEFAULT_BACKEND } from '../helpers/backends.ts';
import { expectBitwise } from '../helpers/pool-fixtures.ts';
import { f32, mulberry32, randn, values } from '../helpers/oracle.ts';

/** Float32 round-off of the variance itself (a few ulps), well below the old method's 1e-4…1e-3. */
const RTOL = 1e-6;

/** Largest elementwise |a − e| / |e|. */
function worstRelative(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let j = 0; j < expected.length; j++) worst = Math.max(worst, Math.abs(actual[j] - expected[j]) / Math.abs(expected[j]));
  return worst;
}

/** Float64 two-pass variance of float32 rows [N, D] (the population variance, BackPACK's 1/N). */
function oracleVariance(rows: ArrayLike<number>, N: number, D: number): Float64Array {
  const mean = new Float64Array(D);
  for (let n = 0; n < N; n++) for (let j = 0; j < D; j++) mean[j] += rows[n * D + j];
  for (let j = 0; j < D; j++) mean[j] /= N;
  const v = new Float64Array(D);
  for (let n = 0; n < N; n++) for (let j = 0; j < D; j++) v[j] += (rows[n * D + j] - mean[j]) ** 2;
  return v.map((x) => x / N);
}

/** McCandlish et al.'s estimator from per-sample gradient rows (all parameters concatenated), in float64. */
function oracleNoiseScale(rows: Float64Array[], N: number, reduction: 'mean' | 'sum'): { traceCov: number; gradNormSq: number } {
  const s = reduction === 'mean' ? N : 1;
  let GB2 = 0;
  let S = 0;
  for (const r of rows) {
    const D = r.length / N;
    for (let j = 0; j < D; j++) {
      let mean = 0;
      for (let n = 0; n < N; n++) mean += s * r[n * D + j];
      mean /= N;
      GB2 += mean * mean;
      let dev = 0;
      for (let n = 0; n < N; n++) dev += (s * r[n * D + j] - mean) ** 2;
      S += dev / N; // S − |G_B|² accumulated without cancellation
    }
  }
  return { traceCov: (N * S) / (N - 1), gradNormSq: GB2 - S / (N - 1) };
}

/** The default backend (its device-side moments on native) and wasm (the host-side reduction). */
const BACKENDS = [...new Set([DEFAULT_BACKEND, 'wasm'] as const)];

describe.each(BACKENDS)('on %s', (backend) => {
beforeAll(async () => {
  await useBackend(backend);
});

describe('exact per-sample gradients c + ε·noise (MSE, zero weights, inputs of ones)', () => {
  const N = 64;
  const D_IN = 4;
  const D_OUT = 4; // ρ = 1/(N·D_OUT) = 1/256: a power of two, so g_n = −2ρ·y_n is exact
  const EPS = 1e-3;
  const C = [1, -3, 10, 0.5];
  let net: Network;
  let inputs: HostTensor;
  let targets: HostTensor;
  let expected: { weight: Float64Array; bias: Float64Array };

  beforeAll(() => {
    const spec = parseModelSpec({
      input_shape: [D_IN],
      layers: [{ type: 'Linear', in_features: D_IN, out_features: D_OUT }],
      loss: { type: 'MSELoss', reduction: 'mean' },
    });
    net = buildNetwork(spec, new Map([
      ['0.weight', f32([D_OUT, D_IN], new Float32Array(D_OUT * D_IN))],
      ['0.bias', f32([D_OUT], new Float32Array(D_OUT))],
    ]));
    const rng = mulberry32(7);
    const noise = randn(rng, N * D_OUT);
    const y = Float32Array.from(noise, (z, i) => C[i % D_OUT] * (1 + EPS * z));
    inputs = f32([N, D_IN], new Float32Array(N * D_IN).fill(1));
    targets = f32([N, D_OUT], y);
    const rho = 1 / (N * D_OUT);
    const g = Float64Array.from(y, (v) => -2 * rho * v); // [N, D_OUT], exact
    const bias = oracleVariance(g, N, D_OUT);
    // The weight's per-sample gradient is g_n ⊗ 1: each input column repeats the bias's variance.
    const weight = Float64Array.from({ length: D_OUT * D_IN }, (_, k) => bias[Math.floor(k / D_IN)]);
    expected = { weight, bias };
  });

  afterAll(() => disposeNetwork(net));

  it.each([[N, 1], [7, 10], [1, N]])('shards of %i (%i shards): float32 round-off of the variance; the old Σg² − (Σg)² formula was far off', (shardSize) => {
    const r = runBatch(net, inputs, targets, { extensions: ['Variance', 'SumGradSquared', 'BatchGrad'], shardSize });
    // The per-sample gradients are exact, so the oracle is exact too.
    expect(values(r.results.get('0.bias.grad_batch'))).toEqual(Float64Array.from(values(targets), (v) => (-2 * v) / (N * D_OUT)));
    for (const p of ['weight', 'bias'] as const) {
      const err = worstRelative(values(r.results.get(`0.${p}.variance`)), expected[p]);
      expect(err, `0.${p}.variance`).toBeLessThan(RTOL);
      // What the variance used to be: (1/N)Σ g² − ((1/N)Σ g)² from float32 sums of squares.
      const sumsq = values(r.results.get(`0.${p}.sum_grad_squared`));
      const grad = values(r.results.get(`0.${p}.grad`));
      const old = sumsq.map((s, j) => s / N - (grad[j] / N) ** 2);
      expect(worstRelative(old, expected[p]), `old formula, 0.${p}`).toBeGreaterThan(1e-3);
    }
  });
});

describe('Tanh MLP on near-identical inputs (variance ≈ 1e-6 of mean²), sharded, on pools', () => {
  const N = 48;
  const EXTENSIONS: ExtensionName[] = ['Variance', 'BatchGrad', 'GradientNoiseScale'];
  let net: Network;
  let tensors: { spec: ReturnType<typeof parseModelSpec>; weights: Map<string, HostTensor>; inputs: HostTensor; targets: HostTensor };

  beforeAll(() => {
    const spec = parseModelSpec({
      input_shape: [6],
      layers: [
        { type: 'Linear', in_features: 6, out_features: 8 },
        { type: 'Tanh' },
        { type: 'Linear', in_features: 8, out_features: 3 },
      ],
      loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
    });
    const rng = mulberry32(99);
    const weights = new Map<string, HostTensor>([
      ['0.weight', f32([8, 6], randn(rng, 48, 0.5))],
      ['0.bias', f32([8], randn(rng, 8, 0.5))],
      ['2.weight', f32([3, 8], randn(rng, 24, 0.5))],
      ['2.bias', f32([3], randn(rng, 3, 0.5))],
    ]);
    const x0 = randn(rng, 6);
    const noise = randn(rng, N * 6);
    const inputs = f32([N, 6], Float32Array.from(noise, (z, i) => x0[i % 6] + 1e-3 * z));
    const targets: HostTensor = { dtype: 'int32', shape: [N], data: new Int32Array(N).fill(1) };
    net = buildNetwork(spec, weights);
    tensors = { spec, weights, inputs, targets };
  });

  afterAll(() => disposeNetwork(net));

  /** Every parameter's variance against the float64 variance of the job's own per-sample gradients. */
  function expectAccurate(r: RunResult, label: string): void {
    for (const p of net.paramNames) {
      const rows = values(r.results.get(`${p}.grad_batch`));
      const D = rows.length / N;
      const expected = oracleVariance(rows, N, D);
      const mean = rows.subarray(0, D);
      // The premise: a variance far below the squared mean (over the parameter's entries).
      expect(expected.reduce((a, v) => a + v, 0) / mean.reduce((a, m) => a + m * m, 0), `${label} ${p}: var/mean²`).toBeLessThan(1e-4);
      expect(worstRelative(values(r.results.get(`${p}.variance`)), expected), `${label} ${p}.variance`).toBeLessThan(RTOL);
    }
    const gns = oracleNoiseScale(net.paramNames.map((p) => values(r.results.get(`${p}.grad_batch`))), N, 'mean');
    expect(worstRelative(values(r.results.get('gradient_noise_scale.trace_cov')), [gns.traceCov]), `${label} trace_cov`).toBeLessThan(RTOL);
    expect(worstRelative(values(r.results.get('gradient_noise_scale.grad_norm_sq')), [gns.gradNormSq]), `${label} grad_norm_sq`).toBeLessThan(RTOL);
  }

  it('one shard and shards of 5: float32 round-off of the variance; the noise scale too', () => {
    expectAccurate(runBatch(net, tensors.inputs, tensors.targets, { extensions: EXTENSIONS }), 'one shard');
    expectAccurate(runBatch(net, tensors.inputs, tensors.targets, { extensions: EXTENSIONS, shardSize: 5 }), 'shards of 5');
  });

  it('the noise scale with a sum-reduced loss too (u_n = g_n, not N·g_n)', () => {
    const sumNet = buildNetwork({ ...tensors.spec, loss: { ...tensors.spec.loss, reduction: 'sum' } }, tensors.weights);
    try {
      const r = runBatch(sumNet, tensors.inputs, tensors.targets, { extensions: EXTENSIONS, shardSize: 5 });
      const gns = oracleNoiseScale(sumNet.paramNames.map((p) => values(r.results.get(`${p}.grad_batch`))), N, 'sum');
      expect(worstRelative(values(r.results.get('gradient_noise_scale.trace_cov')), [gns.traceCov])).toBeLessThan(RTOL);
      expect(worstRelative(values(r.results.get('gradient_noise_scale.grad_norm_sq')), [gns.gradNormSq])).toBeLessThan(RTOL);
      expect(worstRelative(values(r.results.get('gradient_noise_scale')), [gns.traceCov / gns.gradNormSq])).toBeLessThan(RTOL);
    } finally {
      disposeNetwork(sumNet);
    }
  });

  describe('the same shard plan on 1 and 3 worker threads: bitwise equal, and equal to runBatch', () => {
    const pools: WorkerPool[] = [];
    afterAll(async () => {
      await Promise.all(pools.map((p) => p.close()));
    });

    it('bitwise', async () => {
      const opts = { extensions: EXTENSIONS, shardSize: 5, seed: 0, backend };
      const inProcess = runBatch(net, tensors.inputs, tensors.targets, opts);
      for (const W of [1, 3]) {
        const pool = createPool('threads', W);
        pools.push(pool);
        const r = await runJobOnPool(pool, tensors, opts);
        expectAccurate(r, `${W} workers`);
        expectBitwise(r, inProcess, `${W} workers vs runBatch`);
      }
    });
  });
});
});
