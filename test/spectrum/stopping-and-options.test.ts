/**
 * Stopping rules, progress events and bad options of the spectrum methods, on a dense symmetric
 * matrix with a known spectrum (Q diag(λ) Qᵀ, Q from a seeded orthogonalisation):
 *  - a looser tol stops Lanczos earlier; max iterations ends it unconverged, with residuals that
 *    still bound the distance to a true eigenvalue;
 *  - progress events count steps and products up to the reported cost;
 *  - every bad option is a UsageError naming it.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors/index.ts';
import { spectralDensity } from '../../src/spectrum/density.ts';
import { extremeEigenvalues } from '../../src/spectrum/eigenvalues.ts';
import { denseOperator } from '../../src/spectrum/operator.ts';
import type { SpectrumProgress } from '../../src/spectrum/progress.ts';
import { runSpectrum } from '../../src/spectrum/run-spectrum.ts';
import { hutchinson, hutchpp } from '../../src/spectrum/trace.ts';
import { orthogonalize, norm, scaled } from '../../src/spectrum/vectors.ts';
import { mulberry32, randn } from '../helpers/oracle.ts';

const n = 60;
/** Eigenvalues 1/k² (a decaying, curvature-like spectrum) with three negative ones. */
const LAMBDA = Array.from({ length: n }, (_, k) => (k < 3 ? -0.05 * (k + 1) : 1 / (k - 2) ** 2));

function knownMatrix(): Float64Array {
  const rng = mulberry32(3);
  const Q: Float64Array[] = [];
  while (Q.length < n) {
    const v = Float64Array.from(randn(rng, n));
    orthogonalize(v, Q);
    Q.push(scaled(1 / norm(v), v));
  }
  const A = new Float64Array(n * n);
  Q.forEach((q, k) => {
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] += LAMBDA[k] * q[i] * q[j];
  });
  return A;
}

const op = denseOperator(knownMatrix(), n);
const sortedDesc = [...LAMBDA].sort((a, b) => b - a);

describe('Lanczos stopping rules', () => {
  it('a looser tolerance stops earlier; both reach their tolerance', async () => {
    const loose = await extremeEigenvalues(op, { top: 2, tol: 1e-3, maxIterations: n, seed: 1 });
    const tight = await extremeEigenvalues(op, { top: 2, tol: 1e-10, maxIterations: n, seed: 1 });
    expect(loose.converged && tight.converged).toBe(true);
    expect(loose.iterations).toBeLessThan(tight.iterations);
    expect(loose.products).toBe(loose.iterations);
    for (const r of [loose, tight]) r.top.forEach((p, i) => expect(Math.abs(p.value - sortedDesc[i])).toBeLessThanOrEqual(p.residual + 1e-12));
    expect(Math.abs(tight.top[0].value - 1)).toBeLessThan(1e-9);
  });

  it('max iterations ends the run unconverged; each residual still bounds the distance to an eigenvalue', async () => {
    const r = await extremeEigenvalues(op, { top: 5, bottom: 2, tol: 1e-14, maxIterations: 6, seed: 1 });
    expect(r.converged).toBe(false);
    expect(r.ended).toBe('steps');
    expect(r.iterations).toBe(6);
    for (const p of [...r.top, ...r.bottom]) expect(Math.min(...LAMBDA.map((l) => Math.abs(l - p.value)))).toBeLessThanOrEqual(p.residual * (1 + 1e-9));
  });

  it('n steps give the exact spectrum (the Krylov space is the whole space)', async () => {
    const r = await extremeEigenvalues(op, { top: 5, bottom: 3, tol: 1e-300, maxIterations: n, seed: 2 });
    r.top.forEach((p, i) => expect(Math.abs(p.value - sortedDesc[i])).toBeLessThan(1e-10));
    r.bottom.forEach((p, i) => expect(Math.abs(p.value - [...LAMBDA].sort((a, b) => a - b)[i])).toBeLessThan(1e-10));
  });
});

describe('progress events', () => {
  it('count steps and products up to the reported cost, for every method', async () => {
    const events: SpectrumProgress[] = [];
    const r = await runSpectrum(op, { eigen: { top: 3, maxIterations: 20 }, density: { probes: 3, steps: 7 }, trace: { method: 'hutchpp', products: 12 }, onProgress: (p) => events.push({ ...p }), seed: 4 });
    for (const method of ['lanczos', 'slq', 'hutchpp'] as const) {
      const mine = events.filter((e) => e.method === method);
      expect(mine.length, method).toBeGreaterThan(1);
      mine.slice(1).forEach((e, i) => expect(e.products).toBeGreaterThanOrEqual(mine[i].products));
    }
    expect(events.filter((e) => e.method === 'lanczos').at(-1)!.products).toBe(r.eigen!.products);
    expect(events.filter((e) => e.method === 'hutchpp').at(-1)!.products).toBe(r.trace!.products);
    expect(r.products).toBe(r.eigen!.products + r.density!.products + r.trace!.products);
    expect(r.density!.products).toBe(21);
  });
});

describe('bad options are UsageErrors naming the option', () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['top > n', () => extremeEigenvalues(op, { top: n + 1 }), /top = 61 exceeds the dimension 60/],
    ['negative bottom', () => extremeEigenvalues(op, { bottom: -1 }), /bottom must be a non-negative integer/],
    ['nothing asked', () => extremeEigenvalues(op, { top: 0 }), /at least one eigenvalue/],
    ['tol 0', () => extremeEigenvalues(op, { tol: 0 }), /tol must be positive/],
    ['maxIterations 0', () => extremeEigenvalues(op, { maxIterations: 0 }), /maxIterations must be a positive integer/],
    ['probes 0', () => spectralDensity(op, { probes: 0 }), /probes must be a positive integer/],
    ['steps 1.5', () => spectralDensity(op, { steps: 1.5 }), /steps must be a positive integer/],
    ['sigma -1', () => spectralDensity(op, { sigma: -1 }), /sigma must be positive/],
    ['Hutch++ budget 5', () => hutchpp(op, { products: 5 }), /Hutch\+\+ needs a budget of at least 6 products/],
    ['Hutchinson budget 1', () => hutchinson(op, { products: 1 }), /Hutchinson needs a budget of at least 2 products/],
    ['empty plan', () => runSpectrum(op, {}), /nothing to compute/],
  ];
  it.each(cases)('%s', async (_label, call, message) => {
    const e = await call().then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(message);
  });
});
