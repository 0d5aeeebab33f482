/**
 * The mlp_bce_logits_mean fixture (BCEWithLogits, 3 outputs, mean): BackPACK refused every
 * second-order quantity there ("Only scalar-valued predictions are currently supported."), so there
 * is no reference to compare with. We check ours on the fixture's own network, weights and data
 * against the autodiff oracles (GGN from Jacobians, Hessian by double autodiff, KFRA's recursion);
 * the first-order results BackPACK did compute confirm the case is loaded as BackPACK saw it.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { values } from '../helpers/oracle.ts';
import { diagonal, ggnBlock, ggnOracle, hessianOracle, kfraOracle, outerSum, sumAll } from '../helpers/second-order-oracle.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { fixtureCases } from '../helpers/fixtures.ts';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { readTensorFile, readTensorMap } from '../../src/io/tensor-file.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { buildNetwork, disposeNetwork, type Network } from '../../src/nn/network.ts';
import { readModelSpec } from '../../src/nn/parse-spec.ts';

/** float32 engine and float32 autodiff; the fixtures' tolerance (relative to the largest magnitude). */
const RTOL = 1e-4;
const fixture = fixtureCases().find((c) => c.name === 'mlp_bce_logits_mean');

describe.skipIf(!fixture)('mlp_bce_logits_mean: second order where BackPACK refused', () => {
  let net: Network;
  let inputs: HostTensor;
  let targets: HostTensor;
  let expected: Map<string, HostTensor>;
  let results: Map<string, HostTensor>;
  let loss: number;

  beforeAll(async () => {
    await useBackend('cpu');
    const f = (file: string) => path.join(fixture!.dir, file);
    net = buildNetwork(await readModelSpec(f('model.json')), await readTensorMap(f('weights.safetensors')));
    inputs = await readTensorFile(f('inputs.npy'));
    targets = await readTensorFile(f('targets.npy'));
    expected = await readTensorMap(f('expected.safetensors'));
    const run = runBatch(net, inputs, targets, {
      extensions: ['BatchGrad', 'DiagGGNExact', 'BatchDiagGGNExact', 'SqrtGGNExact', 'DiagHessian', 'BatchDiagHessian', 'KFRA'],
    });
    results = run.results;
    loss = run.loss;
    return () => disposeNetwork(net);
  });

  it('is the case BackPACK saw: BCEWithLogits with 3 outputs, second order refused, loss and gradients match', () => {
    expect(net.loss).toEqual({ type: 'BCEWithLogitsLoss', reduction: 'mean' });
    expect(net.outputShape).toEqual([3]);
    expect(fixture!.errors.DiagGGNExact).toMatch(/scalar-valued/);
    expect(fixture!.errors.DiagHessian).toMatch(/scalar-valued/);
    expect(Math.abs(loss - fixture!.loss) / fixture!.loss).toBeLessThan(1e-5);
    for (const p of net.paramNames) {
      expectClose(values(results.get(`${p}.grad`)), values(expected.get(`${p}.grad`)), { rtol: RTOL, label: `${p}.grad` });
      expectClose(values(results.get(`${p}.grad_batch`)), values(expected.get(`${p}.grad_batch`)), { rtol: RTOL, label: `${p}.grad_batch` });
    }
  });

  it('DiagGGNExact, BatchDiagGGNExact and SqrtGGNExact equal the GGN from autodiff Jacobians', () => {
    const oracle = ggnOracle(net, inputs, targets);
    const N = inputs.shape[0];
    for (const p of net.paramNames) {
      const P = net.paramShapes[p].reduce((a, b) => a * b, 1);
      const blocks = oracle.map((s) => ggnBlock(s, p));
      const total = sumAll(blocks);
      const atol = 1e-6 * maxAbs(total);
      expectClose(values(results.get(`${p}.diag_ggn_exact`)), diagonal(total), { rtol: RTOL, atol, label: `${p}.diag_ggn_exact` });
      const rows = new Float64Array(N * P);
      blocks.forEach((b, n) => rows.set(diagonal(b), n * P));
      expectClose(values(results.get(`${p}.diag_ggn_exact_batch`)), rows, { rtol: RTOL, atol, label: `${p}.diag_ggn_exact_batch` });
      const sqrt = results.get(`${p}.sqrt_ggn_exact`)!;
      expect(sqrt.shape).toEqual([3, N, ...net.paramShapes[p]]);
      const q = values(sqrt);
      const perSample = Array.from({ length: N }, (_, n) => outerSum([0, 1, 2].map((c) => q.subarray((c * N + n) * P, (c * N + n + 1) * P))));
      expectClose(sumAll(perSample), total, { rtol: RTOL, atol, label: `${p}.sqrt_ggn_exact: Σ_n Σ_c q qᵀ` });
    }
  });

  it('DiagHessian and BatchDiagHessian equal the diagonal of the autodiff Hessian', () => {
    const oracle = hessianOracle(net, inputs, targets);
    const N = inputs.shape[0];
    for (const p of net.paramNames) {
      const P = net.paramShapes[p].reduce((a, b) => a * b, 1);
      const blocks = oracle.get(p)!;
      const total = sumAll(blocks);
      const atol = 1e-6 * maxAbs(total);
      expectClose(values(results.get(`${p}.diag_h`)), diagonal(total), { rtol: RTOL, atol, label: `${p}.diag_h` });
      const rows = new Float64Array(N * P);
      blocks.forEach((b, n) => rows.set(diagonal(b), n * P));
      expectClose(values(results.get(`${p}.diag_h_batch`)), rows, { rtol: RTOL, atol, label: `${p}.diag_h_batch` });
    }
    // The Tanh residual makes the first layer's Hessian differ from its GGN.
    const h = values(results.get('0.weight.diag_h'));
    const g = values(results.get('0.weight.diag_ggn_exact'));
    expect(maxAbs(h.map((v, j) => v - g[j]))).toBeGreaterThan(1e-3 * maxAbs(g));
  });

  it('KFRA follows its recursion', () => {
    const oracle = kfraOracle(net, inputs, targets);
    for (const p of net.paramNames) {
      expectClose(values(results.get(`${p}.kfra.0`)), oracle.get(Number(p.split('.')[0]))!, { rtol: RTOL, label: `${p}.kfra.0` });
    }
  });
});
