/**
 * The k largest and k smallest eigenvalues (and optionally eigenvectors) of a symmetric operator by
 * Lanczos with full reorthogonalisation from one seeded Rademacher start. A Ritz pair (θ, Q s) of
 * T_j has residual ‖A Q s − θ Q s‖ = β_j |s_last| (Golub & Van Loan §10.1.4); the run stops when
 * every wanted pair's residual is at most `tol`·max|θ|, or after `maxIterations` steps (then
 * `converged` is false and the residuals say how far each value may be off: |λ − θ| ≤ residual
 * for some eigenvalue λ).
 *
 * NOTE: from one start vector Lanczos sees each distinct eigenvalue once; a repeated eigenvalue
 * shows its multiplicity only through rounding, late. Degenerate spectra need more steps.
 */
import { UsageError } from '../errors/index.ts';
import { lanczosRuns, type LanczosRun } from './lanczos.ts';
import { CountingOperator, type SymmetricOperator } from './operator.ts';
import { rademacher } from './probes.ts';
import type { OnSpectrumProgress } from './progress.ts';
import { tridiagonalEigen, type TridiagonalEigen } from './tridiagonal-eigen.ts';
import { combine } from './vectors.ts';

export interface EigenOptions {
  /** How many of the largest (algebraic) eigenvalues (default 5). */
  top?: number;
  /** How many of the smallest (default 0). */
  bottom?: number;
  /** Relative residual at which a Ritz value counts as converged (default 1e-6). */
  tol?: number;
  /** Lanczos steps at most (default min(n, max(100, 4·(top + bottom)))); each is one product. */
  maxIterations?: number;
  /** Return the eigenvectors (float64, unit norm). */
  eigenvectors?: boolean;
  seed?: number;
  onProgress?: OnSpectrumProgress;
}

export interface RitzPair {
  value: number;
  /** β_j |s_last|: an eigenvalue of A lies within this distance of `value`. */
  residual: number;
  vector?: Float64Array;
}

export interface EigenResult {
  /** Descending. */
  top: RitzPair[];
  /** Ascending. */
  bottom: RitzPair[];
  iterations: number;
  products: number;
  converged: boolean;
  /** Why Lanczos ended: converged ('stopped'), the Krylov space became invariant (exact), or the step limit. */
  ended: LanczosRun['ended'];
}

function checkCount(name: string, k: number, n: number): void {
  if (!Number.isInteger(k) || k < 0) throw new UsageError(`${name} must be a non-negative integer, got ${k}`);
  if (k > n) throw new UsageError(`${name} = ${k} exceeds the dimension ${n} (the number of parameters)`);
}

/** Indices of T's eigenpairs wanted: the last `top` (descending) and the first `bottom` (ascending), disjoint. */
function wanted(m: number, top: number, bottom: number): { top: number[]; bottom: number[] } {
  const t = Array.from({ length: Math.min(top, m) }, (_, i) => m - 1 - i);
  const b = Array.from({ length: Math.min(bottom, m) }, (_, i) => i).filter((i) => !t.includes(i));
  return { top: t, bottom: b };
}

/** β_m |s_last,i| for every Ritz pair, from the tracked last row of T's eigenvectors. */
function ritzResiduals(e: TridiagonalEigen, m: number, lastBeta: number): number[] {
  const last = e.rows.get(m - 1)!;
  return e.values.map((_, i) => Math.abs(lastBeta * last[i]));
}

const eigenOf = (run: LanczosRun, rows: number[]) => tridiagonalEigen(run.alpha, run.beta.slice(0, run.alpha.length - 1), rows);

/** The options resolved and checked against the dimension n (before anything is computed). */
export function eigenSettings(opts: EigenOptions, n: number): { top: number; bottom: number; tol: number; maxIterations: number } {
  const top = opts.top ?? 5;
  const bottom = opts.bottom ?? 0;
  checkCount('top', top, n);
  checkCount('bottom', bottom, n);
  if (top + bottom === 0) throw new UsageError('ask for at least one eigenvalue (top or bottom)');
  const tol = opts.tol ?? 1e-6;
  if (!(tol > 0)) throw new UsageError(`tol must be positive, got ${tol}`);
  const maxIterations = opts.maxIterations ?? Math.min(n, Math.max(100, 4 * (top + bottom)));
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new UsageError(`maxIterations must be a positive integer, got ${maxIterations}`);
  return { top, bottom, tol, maxIterations };
}

export async function extremeEigenvalues(operator: SymmetricOperator, opts: EigenOptions = {}): Promise<EigenResult> {
  const n = operator.dim;
  const { top, bottom, tol, maxIterations } = eigenSettings(opts, n);
  const op = new CountingOperator(operator);
  const need = Math.min(n, top + bottom);
  let lastResidual = Infinity;
  const relResidual = (run: LanczosRun): number => {
    const m = run.alpha.length;
    if (m < need) return Infinity;
    const e = eigenOf(run, [m - 1]);
    const res = ritzResiduals(e, m, run.beta[m - 1]);
    const w = wanted(m, top, bottom);
    const scale = Math.max(...e.values.map(Math.abs)) || 1;
    return Math.max(...[...w.top, ...w.bottom].map((i) => res[i] / scale));
  };
  const [run] = await lanczosRuns(op, [rademacher(opts.seed ?? 0, 'lanczosStart', 0, n)], {
    steps: maxIterations,
    shouldStop: (r) => {
      lastResidual = relResidual(r);
      return lastResidual <= tol;
    },
    onStep: (step) => opts.onProgress?.({ method: 'lanczos', step, maxSteps: maxIterations, products: op.products, residual: lastResidual }),
  });
  const m = run.alpha.length;
  const e = eigenOf(run, opts.eigenvectors ? Array.from({ length: m }, (_, r) => r) : [m - 1]);
  const res = run.ended === 'invariant' ? e.values.map(() => 0) : ritzResiduals(e, m, run.beta[m - 1]);
  const w = wanted(m, top, bottom);
  const pair = (i: number): RitzPair => ({
    value: e.values[i],
    residual: res[i],
    ...(opts.eigenvectors ? { vector: combine(Float64Array.from({ length: m }, (_, r) => e.rows.get(r)![i]), run.basis) } : {}),
  });
  const scale = Math.max(...e.values.map(Math.abs)) || 1;
  const converged = run.ended === 'invariant' || [...w.top, ...w.bottom].every((i) => res[i] <= tol * scale);
  opts.onProgress?.({ method: 'lanczos', step: m, maxSteps: maxIterations, products: op.products, residual: Math.max(0, ...[...w.top, ...w.bottom].map((i) => res[i] / scale)) });
  return { top: w.top.map(pair), bottom: w.bottom.map(pair), iterations: m, products: op.products, converged, ended: run.ended };
}
