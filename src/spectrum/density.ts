/**
 * Spectral density by stochastic Lanczos quadrature (Golub & Meurant 2010; Ubaru, Chen & Saad 2017;
 * Ghorbani, Krishnan & Xiao 2019 for neural-network Hessians). For each seeded Rademacher probe z,
 * m Lanczos steps from q = z/√n give T = S diag(θ) Sᵀ and the Gauss quadrature
 *     qᵀ f(A) q ≈ Σ_i τ_i² f(θ_i),   τ_i = S[0, i],
 * exact for polynomials f of degree ≤ 2m − 1. The spectral density φ(t) = (1/n) Σ_j δ(t − λ_j)
 * satisfies ∫ f dφ = tr f(A)/n = E_z[qᵀ f(A) q], so averaging the probes' nodes and weights gives
 * a density whose moments ∫ t^k dφ are Hutchinson estimates of tr(A^k)/n: exact quadrature for
 * k ≤ 2m − 1, and a sampling error from the probes only (see `densityMoment`).
 */
import { UsageError } from '../errors/index.ts';
import { lanczosRuns } from './lanczos.ts';
import { CountingOperator, type SymmetricOperator } from './operator.ts';
import { rademacher } from './probes.ts';
import type { OnSpectrumProgress } from './progress.ts';
import { tridiagonalEigen } from './tridiagonal-eigen.ts';

export interface DensityOptions {
  /** Random probes (default 10). */
  probes?: number;
  /** Lanczos steps per probe (default min(n, 80)). */
  steps?: number;
  /** Probes whose Lanczos runs advance together, sharing each pass over the data (default min(probes, 4)). */
  parallelProbes?: number;
  /** Points of the smoothed density's grid (default 256). */
  gridPoints?: number;
  /** Width of the Gaussian that smooths each node (default 1% of the node range, at least 1e-12 of the largest |node|). */
  sigma?: number;
  seed?: number;
  onProgress?: OnSpectrumProgress;
}

export interface ProbeQuadrature {
  /** Ritz values θ_i, ascending. */
  nodes: number[];
  /** τ_i², summing to 1. */
  weights: number[];
}

export interface DensityResult {
  /** Per probe: its Gauss quadrature. */
  probes: ProbeQuadrature[];
  /** The density as point masses: every probe's nodes, with weights τ_i²/probes (summing to 1). */
  nodes: number[];
  weights: number[];
  /** The smoothed density on an even grid: Σ weight·N(t; node, σ²). */
  grid: number[];
  density: number[];
  sigma: number;
  steps: number;
  products: number;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new UsageError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** The options resolved and checked against the dimension n (before anything is computed). */
export function densitySettings(opts: DensityOptions, n: number): { probes: number; steps: number; parallel: number; gridPoints: number } {
  const probes = positiveInt('probes', opts.probes ?? 10);
  const steps = Math.min(n, positiveInt('steps', opts.steps ?? 80));
  const parallel = Math.min(probes, positiveInt('parallelProbes', opts.parallelProbes ?? 4));
  const gridPoints = positiveInt('gridPoints', opts.gridPoints ?? 256);
  if (opts.sigma !== undefined && !(opts.sigma > 0)) throw new UsageError(`sigma must be positive, got ${opts.sigma}`);
  return { probes, steps, parallel, gridPoints };
}

export async function spectralDensity(operator: SymmetricOperator, opts: DensityOptions = {}): Promise<DensityResult> {
  const n = operator.dim;
  const { probes, steps, parallel, gridPoints } = densitySettings(opts, n);
  const op = new CountingOperator(operator);
  const seed = opts.seed ?? 0;
  const quadratures: ProbeQuadrature[] = [];
  for (let first = 0; first < probes; first += parallel) {
    const ids = Array.from({ length: Math.min(parallel, probes - first) }, (_, i) => first + i);
    const runs = await lanczosRuns(op, ids.map((p) => rademacher(seed, 'slq', p, n)), {
      steps,
      onStep: (step) => opts.onProgress?.({ method: 'slq', step: first * steps + step * ids.length, maxSteps: probes * steps, products: op.products }),
    });
    for (const run of runs) {
      const m = run.alpha.length;
      const e = tridiagonalEigen(run.alpha, run.beta.slice(0, m - 1), [0]);
      const first = e.rows.get(0)!;
      quadratures.push({ nodes: e.values, weights: e.values.map((_, i) => first[i] * first[i]) });
    }
  }
  const nodes = quadratures.flatMap((q) => q.nodes);
  const weights = quadratures.flatMap((q) => q.weights.map((w) => w / probes));
  const lo = Math.min(...nodes);
  const hi = Math.max(...nodes);
  const sigma = opts.sigma ?? Math.max(0.01 * (hi - lo), 1e-12 * Math.max(Math.abs(lo), Math.abs(hi)), Number.MIN_VALUE);
  const { grid, density } = smoothed(nodes, weights, lo - 4 * sigma, hi + 4 * sigma, gridPoints, sigma);
  return { probes: quadratures, nodes, weights, grid, density, sigma, steps, products: op.products };
}

/** Σ_i w_i N(t; x_i, σ²) at `points` even points of [lo, hi]. */
export function smoothed(nodes: number[], weights: number[], lo: number, hi: number, points: number, sigma: number): { grid: number[]; density: number[] } {
  const grid = Array.from({ length: points }, (_, i) => (points === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * i) / (points - 1)));
  const c = 1 / (sigma * Math.sqrt(2 * Math.PI));
  const density = grid.map((t) => nodes.reduce((s, x, i) => s + weights[i] * c * Math.exp(-0.5 * ((t - x) / sigma) ** 2), 0));
  return { grid, density };
}

/**
 * The k-th moment ∫ t^k dφ ≈ tr(A^k)/n, with its standard error over the probes (sample standard
 * deviation / √probes). Each probe's term equals zᵀA^k z / n exactly when k ≤ 2m − 1 (m its
 * Lanczos steps), so the only error is Hutchinson's: its variance is
 * 2(‖A^k‖_F² − Σ_i (A^k)_ii²) / (n²·probes) for Rademacher probes.
 */
export function densityMoment(d: Pick<DensityResult, 'probes'>, k: number): { mean: number; stdError: number } {
  const per = d.probes.map((q) => q.nodes.reduce((s, x, i) => s + q.weights[i] * x ** k, 0));
  const mean = per.reduce((a, b) => a + b, 0) / per.length;
  const variance = per.length > 1 ? per.reduce((a, b) => a + (b - mean) ** 2, 0) / (per.length - 1) : NaN;
  return { mean, stdError: Math.sqrt(variance / per.length) };
}
