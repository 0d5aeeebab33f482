/**
 * Curvature spectra of small networks against dense matrices built by autodiff (the GGN from
 * per-sample Jacobians and loss Hessians, the Hessian by double autodiff), over a data set read in
 * batches of 4 and shards of 3 (ρ as for one batch of N = 10):
 *  - Lanczos: the 5 largest eigenvalues (and the 3 smallest of the indefinite Hessian) at rtol 1e-4,
 *    eigenvectors with small residuals;
 *  - Hutchinson and Hutch++ at 24 products (< n): the error is within the stated bound (3 standard
 *    errors from the probes) and within 3 theoretical standard deviations (from the dense matrix:
 *    2(‖A‖_F² − Σ A_ii²)/m, for Hutch++ of the deflated Δ); exact (rtol 1e-5) with ≥ n products;
 *  - SLQ: each probe's quadrature reproduces zᵀA^k z/n (k ≤ 2m − 1) at rtol 1e-5, and the averaged
 *    moments match tr(A^k)/n within 3 theoretical standard deviations of the probe average.
 * The dense eigensolver used as oracle is checked here too (residuals and orthonormality).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { createInProcessPool } from '../../src/coordinator/in-process-pool.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { buildNetwork, type Network } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { curvatureOperator } from '../../src/spectrum/curvature-operator.ts';
import { tensorData } from '../../src/spectrum/data.ts';
import { densityMoment, spectralDensity } from '../../src/spectrum/density.ts';
import { extremeEigenvalues } from '../../src/spectrum/eigenvalues.ts';
import type { SymmetricOperator } from '../../src/spectrum/operator.ts';
import { rademacher } from '../../src/spectrum/probes.ts';
import { symmetricEigen } from '../helpers/jacobi-eigen.ts';
import { hutchinson, hutchpp } from '../../src/spectrum/trace.ts';
import { dot, norm } from '../../src/spectrum/vectors.ts';
import { denseGGN, denseHessian, hutchinsonVariance, matMul, matVec, traceOf } from '../helpers/dense-curvature.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { mulberry32, randomBatch, randomWeights } from '../helpers/oracle.ts';

const N = 10;
const SPECS: Record<string, unknown> = {
  'MLP tanh, cross-entropy': {
    input_shape: [4],
    layers: [{ type: 'Linear', in_features: 4, out_features: 6 }, { type: 'Tanh' }, { type: 'Linear', in_features: 6, out_features: 3 }],
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
  },
  'CNN sigmoid, MSE': {
    input_shape: [1, 4, 4],
    layers: [
      { type: 'Conv2d', in_channels: 1, out_channels: 2, kernel_size: 2 }, { type: 'Sigmoid' }, { type: 'Flatten' },
      { type: 'Linear', in_features: 18, out_features: 2 },
    ],
    loss: { type: 'MSELoss', reduction: 'mean' },
  },
};

interface Case {
  net: Network;
  weights: Map<string, HostTensor>;
  inputs: HostTensor;
  targets: HostTensor;
}

function setup(name: string): Case {
  const spec = parseModelSpec(SPECS[name]);
  const weights = randomWeights(spec, mulberry32(21));
  const net = buildNetwork(spec, weights);
  const { inputs, targets } = randomBatch(net, N, mulberry32(5));
  return { net, weights, inputs, targets };
}

/** The oracle's eigen-decomposition, verified: ‖Av − λv‖ and VᵀV − I at rounding level. */
function checkedEigen(A: Float64Array, P: number) {
  const e = symmetricEigen(A, P);
  const scale = Math.max(...e.values.map(Math.abs));
  e.values.forEach((l, i) => {
    const v = e.vectors[i];
    const Av = matVec(A, P, v);
    expect(Math.max(...Av.map((x, j) => Math.abs(x - l * v[j])))).toBeLessThan(1e-10 * scale);
    expect(Math.abs(dot(v, v) - 1)).toBeLessThan(1e-12);
    if (i > 0) expect(Math.abs(dot(v, e.vectors[i - 1]))).toBeLessThan(1e-10);
  });
  return e;
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe.each(Object.keys(SPECS))('%s', (name) => {
  const c = setup(name);
  const pool = createInProcessPool();
  const data = tensorData(c.inputs, c.targets, 4);
  const operatorOf = (curvature: 'ggn' | 'hessian'): SymmetricOperator => curvatureOperator(pool, c.net, c.weights, data, { curvature, shardSize: 3, backend: 'cpu' });
  const dense = { ggn: () => denseGGN(c.net, c.inputs, c.targets).G, hessian: () => denseHessian(c.net, c.inputs, c.targets).H };
  const cache = new Map<string, Float64Array>();
  const matrix = (k: 'ggn' | 'hessian') => cache.get(k) ?? cache.set(k, dense[k]()).get(k)!;

  describe.each(['ggn', 'hessian'] as const)('%s', (curvature) => {
    it('the operator is the dense matrix (a random vector)', async () => {
      const A = matrix(curvature);
      const op = operatorOf(curvature);
      const x = rademacher(3, 'hutchinson', 0, op.dim);
      const [y] = await op.apply([x]);
      expectClose(y, matVec(A, op.dim, x), { rtol: 1e-5, label: 'A·x' });
    });

    it('Lanczos: top-5 (and bottom-3) eigenvalues at rtol 1e-4, eigenvectors with small residuals', async () => {
      const A = matrix(curvature);
      const op = operatorOf(curvature);
      const P = op.dim;
      const exact = checkedEigen(A, P).values;
      const bottom = curvature === 'hessian' ? 3 : 0;
      const r = await extremeEigenvalues(op, { top: 5, bottom, tol: 1e-7, maxIterations: P, seed: 1, eigenvectors: true });
      expect(r.converged).toBe(true);
      const scale = Math.max(...exact.map(Math.abs));
      const want = exact.slice(-5).reverse();
      r.top.forEach((p, i) => expect(Math.abs(p.value - want[i]), `top ${i}: ${p.value} vs ${want[i]}`).toBeLessThanOrEqual(1e-4 * Math.abs(want[i])));
      r.bottom.forEach((p, i) => expect(Math.abs(p.value - exact[i]), `bottom ${i}: ${p.value} vs ${exact[i]}`).toBeLessThanOrEqual(1e-4 * scale));
      for (const p of [...r.top, ...r.bottom]) {
        const v = p.vector!;
        expect(Math.abs(norm(v) - 1)).toBeLessThan(1e-9);
        const Av = matVec(A, P, v);
        expect(norm(Av.map((x, j) => x - p.value * v[j]))).toBeLessThan(1e-3 * scale);
      }
      // Fewer steps than n: the largest eigenvalue converges long before the basis is complete.
      expect(r.iterations).toBeLessThan(P);
    });

    it('Hutchinson and Hutch++ at 24 products: within the stated bound and 3 theoretical standard deviations', async () => {
      const A = matrix(curvature);
      const op = operatorOf(curvature);
      const P = op.dim;
      const tr = traceOf(A, P);
      const m = 24;
      expect(m).toBeLessThan(P);
      const h = await hutchinson(op, { products: m, seed: 4 });
      expect(h.products).toBe(m);
      expect(Math.abs(h.estimate - tr)).toBeLessThanOrEqual(h.errorBound);
      expect(Math.abs(h.estimate - tr)).toBeLessThanOrEqual(3 * Math.sqrt(hutchinsonVariance(A, P) / m));
      const pp = await hutchpp(op, { products: m, seed: 4, keepSketch: true });
      expect(pp.products).toBeLessThanOrEqual(m);
      expect(Math.abs(pp.estimate - tr)).toBeLessThanOrEqual(pp.errorBound);
      // Δ = (I − QQᵀ) A (I − QQᵀ) from the dense A and the estimator's sketch basis Q.
      const proj = new Float64Array(P * P);
      for (let i = 0; i < P; i++) proj[i * P + i] = 1;
      for (const q of pp.sketch!) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) proj[i * P + j] -= q[i] * q[j];
      const delta = matMul(matMul(proj, A, P), proj, P);
      const g = m - 2 * pp.sketchRank!;
      expect(Math.abs(pp.estimate - tr)).toBeLessThanOrEqual(3 * Math.sqrt(hutchinsonVariance(delta, P) / g) + 1e-6 * Math.abs(tr));
    });

    it('traces are exact with at least n products', async () => {
      const A = matrix(curvature);
      const op = operatorOf(curvature);
      for (const est of [await hutchpp(op, { products: op.dim, seed: 2 }), await hutchinson(op, { products: op.dim + 3, seed: 2 })]) {
        expect(est.exact).toBe(true);
        expect(est.products).toBe(op.dim);
        expectClose([est.estimate], [traceOf(A, op.dim)], { rtol: 1e-5, label: 'exact trace' });
      }
    });

    it('SLQ: quadrature reproduces each probe, moments match tr(A^k)/n within 3 standard deviations', async () => {
      const A = matrix(curvature);
      const op = operatorOf(curvature);
      const P = op.dim;
      const probes = 6;
      const steps = 8;
      const d = await spectralDensity(op, { probes, steps, seed: 7, parallelProbes: 4 });
      expect(d.products).toBe(probes * steps);
      expectClose([d.weights.reduce((a, b) => a + b, 0)], [1], { rtol: 1e-12, label: 'weights sum' });
      let Ak: Float64Array = new Float64Array(A);
      for (let k = 1; k <= 2 * steps - 1; k++) {
        if (k > 1) Ak = matMul(Ak, A, P);
        // Each probe: Σ τ² θ^k = zᵀA^k z / n exactly for k ≤ 2m − 1.
        d.probes.forEach((q, p) => {
          const z = rademacher(7, 'slq', p, P);
          const quad = q.nodes.reduce((s, x, i) => s + q.weights[i] * x ** k, 0);
          expectClose([quad], [dot(z, matVec(Ak, P, z)) / P], { rtol: 1e-5 * k, label: `probe ${p}, k=${k}` });
        });
        if (k <= 4) {
          const { mean } = densityMoment(d, k);
          const sd = Math.sqrt(hutchinsonVariance(Ak, P) / probes) / P;
          expect(Math.abs(mean - traceOf(Ak, P) / P), `moment ${k}`).toBeLessThanOrEqual(3 * sd + 1e-5 * Math.abs(traceOf(Ak, P) / P));
        }
      }
      // The smoothed density integrates to 1 (trapezoid rule on its grid).
      const h = d.grid[1] - d.grid[0];
      const integral = d.density.reduce((a, v, i) => a + (i === 0 || i === d.density.length - 1 ? v / 2 : v), 0) * h;
      expect(Math.abs(integral - 1)).toBeLessThan(1e-3);
    });
  });
});
