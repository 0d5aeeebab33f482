/**
 * The library entry of curvature spectra: the methods a caller asks for, run one after another on
 * one curvature operator (one worker pool), with their results in a JSON-ready report.
 *
 *   const op = curvatureOperator(pool, net, weights, tensorData(inputs, targets), { curvature: 'ggn', backend });
 *   const report = await runSpectrum(op, { eigen: { top: 10 }, density: { probes: 10 }, trace: { method: 'hutchpp', products: 99 } });
 */
import { UsageError } from '../errors/index.ts';
import { densitySettings, spectralDensity, type DensityOptions, type DensityResult } from './density.ts';
import { eigenSettings, extremeEigenvalues, type EigenOptions, type EigenResult } from './eigenvalues.ts';
import type { SymmetricOperator } from './operator.ts';
import type { OnSpectrumProgress } from './progress.ts';
import { checkTraceBudget, hutchinson, hutchpp, type TraceEstimate } from './trace.ts';

export const TRACE_METHODS = ['hutchinson', 'hutchpp'] as const;
export type TraceMethod = (typeof TRACE_METHODS)[number];

export interface SpectrumPlan {
  eigen?: Omit<EigenOptions, 'seed' | 'onProgress'>;
  density?: Omit<DensityOptions, 'seed' | 'onProgress'>;
  trace?: { method: TraceMethod; products: number; batch?: number };
  seed?: number;
  onProgress?: OnSpectrumProgress;
}

export interface SpectrumResults {
  dimension: number;
  seed: number;
  eigen?: EigenResult;
  density?: DensityResult;
  trace?: TraceEstimate;
  /** Products of all methods together (the cost: each is one pass of a vector over the data). */
  products: number;
}

/** Checks every option of the plan against the dimension n, so that a bad one fails before any product. */
export function checkPlan(plan: SpectrumPlan, n: number): void {
  if (!plan.eigen && !plan.density && !plan.trace) throw new UsageError('nothing to compute: ask for eigenvalues, a density or a trace');
  if (plan.eigen) eigenSettings(plan.eigen, n);
  if (plan.density) densitySettings(plan.density, n);
  if (plan.trace) {
    if (!TRACE_METHODS.includes(plan.trace.method)) throw new UsageError(`trace method must be one of ${TRACE_METHODS.join(', ')}, got '${plan.trace.method}'`);
    checkTraceBudget(plan.trace.method, plan.trace.products);
  }
}

export async function runSpectrum(op: SymmetricOperator, plan: SpectrumPlan): Promise<SpectrumResults> {
  checkPlan(plan, op.dim);
  const seed = plan.seed ?? 0;
  const common = { seed, onProgress: plan.onProgress };
  const out: SpectrumResults = { dimension: op.dim, seed, products: 0 };
  if (plan.eigen) {
    out.eigen = await extremeEigenvalues(op, { ...plan.eigen, ...common });
    out.products += out.eigen.products;
  }
  if (plan.density) {
    out.density = await spectralDensity(op, { ...plan.density, ...common });
    out.products += out.density.products;
  }
  if (plan.trace) {
    const method = plan.trace.method;
    const opts = { products: plan.trace.products, batch: plan.trace.batch, ...common };
    out.trace = method === 'hutchpp' ? await hutchpp(op, opts) : await hutchinson(op, opts);
    out.products += out.trace.products;
  }
  return out;
}
