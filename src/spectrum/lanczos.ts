/**
 * The Lanczos recurrence with full reorthogonalisation (Golub & Van Loan, Matrix Computations,
 * §10.1; Paige 1972 for why plain Lanczos needs it in floating point): for a start vector q₀,
 * an orthonormal basis Q_m of the Krylov space K_m(A, q₀) and the tridiagonal T_m = Q_mᵀ A Q_m,
 * whose eigenvalues (Ritz values) approximate A's extreme eigenvalues and whose eigenvectors give
 * Gauss quadrature of q₀ᵀ f(A) q₀.
 *
 * Several independent runs (one per start vector: SLQ's probes) advance in lockstep, so each step
 * costs one operator call with one vector per active run: for the curvature operator, one pass
 * over the data for all of them.
 */
import type { SymmetricOperator } from './operator.ts';
import { axpy, dot, norm, orthogonalize, scaled } from './vectors.ts';

export interface LanczosRun {
  /** Diagonal of T (length m). */
  alpha: number[];
  /** Off-diagonal of T (length m − 1), then β_m: the size of the residual after the last step. */
  beta: number[];
  /** The orthonormal Lanczos vectors q₀ … q_{m−1}. */
  basis: Float64Array[];
  /** 'steps': reached the step limit; 'invariant': the Krylov space is A-invariant (T's spectrum is exact); 'stopped': `shouldStop` said so. */
  ended: 'steps' | 'invariant' | 'stopped' | null;
}

export interface LanczosOptions {
  /** At most this many steps per run (capped at n: the basis is then complete). */
  steps: number;
  /** Asked after every step of a run: true ends it (e.g. its wanted Ritz values converged). */
  shouldStop?: (run: LanczosRun, index: number) => boolean;
  /** After every step of the lockstep. */
  onStep?: (step: number, active: number) => void;
}

/**
 * β below this fraction of ‖T‖ means the residual is rounding noise: the Krylov space is invariant
 * to working precision (products are float32, so ~1e-7 relative is the floor; 1e-9 of float64
 * Krylov vectors is well below it and well above 0).
 */
const BREAKDOWN = 1e-9;

export async function lanczosRuns(op: SymmetricOperator, starts: Float64Array[], opts: LanczosOptions): Promise<LanczosRun[]> {
  const steps = Math.min(opts.steps, op.dim);
  const runs: LanczosRun[] = starts.map((s) => ({ alpha: [], beta: [], basis: [scaled(1 / norm(s), s)], ended: null }));
  for (let step = 0; step < steps; step++) {
    const active = runs.map((r, i) => (r.ended === null ? i : -1)).filter((i) => i >= 0);
    if (active.length === 0) break;
    opts.onStep?.(step, active.length);
    const ws = await op.apply(active.map((i) => runs[i].basis[step]));
    active.forEach((i, k) => {
      const run = runs[i];
      const w = ws[k];
      const q = run.basis[step];
      const a = dot(q, w);
      run.alpha.push(a);
      axpy(-a, q, w);
      if (step > 0) axpy(-run.beta[step - 1], run.basis[step - 1], w);
      orthogonalize(w, run.basis);
      const b = norm(w);
      run.beta.push(b);
      const scale = Math.max(...run.alpha.map(Math.abs), ...run.beta.map(Math.abs));
      if (b <= BREAKDOWN * scale) run.ended = 'invariant';
      else if (step + 1 === steps) run.ended = 'steps';
      else if (opts.shouldStop?.(run, i)) run.ended = 'stopped';
      else run.basis.push(scaled(1 / b, w));
    });
  }
  return runs;
}
