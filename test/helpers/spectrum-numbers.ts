/** Every number of a spectrum run (both curvatures, every method), in a fixed order: what the bitwise tests compare. */
import type { Curvature } from '../../src/core/curvature-products.ts';
import { spectralDensity } from '../../src/spectrum/density.ts';
import { extremeEigenvalues } from '../../src/spectrum/eigenvalues.ts';
import type { CurvatureOperator } from '../../src/spectrum/curvature-operator.ts';
import { hutchinson, hutchpp } from '../../src/spectrum/trace.ts';

export async function spectrumNumbers(operatorFor: (curvature: Curvature) => Promise<CurvatureOperator>, seed: number, close?: (op: CurvatureOperator) => Promise<void>): Promise<Float64Array> {
  const out: number[] = [];
  for (const curvature of ['ggn', 'hessian'] as const) {
    const op = await operatorFor(curvature);
    try {
      const e = await extremeEigenvalues(op, { top: 3, bottom: 2, maxIterations: 12, seed, eigenvectors: true });
      for (const p of [...e.top, ...e.bottom]) out.push(p.value, p.residual, ...p.vector!);
      const h = await hutchinson(op, { products: 5, seed, batch: 5 });
      const pp = await hutchpp(op, { products: 9, seed });
      const d = await spectralDensity(op, { probes: 3, steps: 5, seed, parallelProbes: 2, gridPoints: 16 });
      out.push(h.estimate, h.stdError, pp.estimate, pp.stdError, ...d.nodes, ...d.weights, ...d.density, op.loss);
    } finally {
      await close?.(op);
    }
  }
  return Float64Array.from(out);
}
