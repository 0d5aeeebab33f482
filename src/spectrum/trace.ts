/**
 * Trace estimators from matrix-vector products alone, seeded:
 *
 *  Hutchinson (1990): tr(A) ≈ (1/m) Σ zᵢᵀ A zᵢ over m Rademacher probes; unbiased, variance
 *    2(‖A‖_F² − Σ A_jj²)/m.
 *  Hutch++ (Meyer, Musco, Musco & Woodruff 2021): with a budget of m products, s = ⌈m/3⌉ go into
 *    a sketch A·S (S Rademacher n×s), Q = orth(A S); s more into A Q, giving the exact trace of the
 *    projected part tr(QᵀAQ); the rest, g = m − 2s, into Hutchinson on the deflated remainder
 *    Δ = (I−QQᵀ) A (I−QQᵀ). Unbiased, variance 2(‖Δ‖_F² − Σ Δ_jj²)/g, and for PSD A (the GGN)
 *    ‖Δ‖_F ≲ tr(A)/√s, so the error falls like 1/m instead of Hutchinson's 1/√m.
 *
 * Both report the estimate with its standard error from the probes' spread (sample standard
 * deviation / √probes) and state `errorBound` = 3 standard errors: by Chebyshev the error exceeds
 * it with probability at most 1/9 whatever the distribution (about 0.3% if the CLT applies).
 * With a budget of at least n products the trace is computed exactly instead, from the n unit
 * vectors (`exact: true`, error 0).
 */
import { UsageError } from '../errors/index.ts';
import { CountingOperator, type SymmetricOperator } from './operator.ts';
import { rademacher } from './probes.ts';
import type { OnSpectrumProgress } from './progress.ts';
import { dot, norm, orthogonalize, scaled } from './vectors.ts';

export interface TraceOptions {
  /** Matrix-vector products to spend (Hutchinson: probes; Hutch++: at least 6). */
  products: number;
  /** Products per operator call (one pass over the data computes this many; default 8). */
  batch?: number;
  seed?: number;
  onProgress?: OnSpectrumProgress;
}

export interface TraceEstimate {
  method: 'hutchinson' | 'hutchpp' | 'exact';
  estimate: number;
  /** Standard error of the stochastic part (0 when exact). */
  stdError: number;
  /** 3·stdError (see the module comment). */
  errorBound: number;
  products: number;
  exact: boolean;
  /** Hutch++: the rank of the sketch basis Q (deflated part), and Q itself when asked for. */
  sketchRank?: number;
  sketch?: Float64Array[];
}

const MULTIPLE = 3;

/** The fewest products each estimator can work with (Hutch++: a sketch, A·Q and two residual probes). */
export const MIN_PRODUCTS = { hutchinson: 2, hutchpp: 6 } as const;
const NAMES = { hutchinson: 'Hutchinson', hutchpp: 'Hutch++' } as const;

export function checkTraceBudget(method: keyof typeof MIN_PRODUCTS, products: number): void {
  const min = MIN_PRODUCTS[method];
  if (!Number.isInteger(products) || products < min) throw new UsageError(`${NAMES[method]} needs a budget of at least ${min} products (an integer), got ${products}`);
}

/** Applies the operator to `xs` in calls of `batch` vectors. */
async function applyAll(op: SymmetricOperator, xs: Float64Array[], batch: number, progress: (done: number) => void): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  for (let i = 0; i < xs.length; i += batch) {
    out.push(...(await op.apply(xs.slice(i, i + batch))));
    progress(out.length);
  }
  return out;
}

function meanAndError(samples: number[]): { mean: number; stdError: number } {
  const m = samples.length;
  const mean = samples.reduce((a, b) => a + b, 0) / m;
  const variance = m > 1 ? samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (m - 1) : Infinity;
  return { mean, stdError: Math.sqrt(variance / m) };
}

function batchOf(opts: TraceOptions): number {
  const b = opts.batch ?? 8;
  if (!Number.isInteger(b) || b < 1) throw new UsageError(`batch must be a positive integer, got ${b}`);
  return b;
}

/** tr(A) = Σ_j e_jᵀ A e_j with n products. */
export async function exactTrace(operator: SymmetricOperator, opts: Omit<TraceOptions, 'products'> = {}): Promise<TraceEstimate> {
  const n = operator.dim;
  const op = new CountingOperator(operator);
  const batch = batchOf({ products: n, ...opts });
  let trace = 0;
  for (let first = 0; first < n; first += batch) {
    const ids = Array.from({ length: Math.min(batch, n - first) }, (_, i) => first + i);
    const ys = await op.apply(ids.map((j) => {
      const e = new Float64Array(n);
      e[j] = 1;
      return e;
    }));
    ids.forEach((j, k) => (trace += ys[k][j]));
    opts.onProgress?.({ method: 'exact-trace', step: first + ids.length, maxSteps: n, products: op.products });
  }
  return { method: 'exact', estimate: trace, stdError: 0, errorBound: 0, products: op.products, exact: true };
}

export async function hutchinson(operator: SymmetricOperator, opts: TraceOptions): Promise<TraceEstimate> {
  const n = operator.dim;
  checkTraceBudget('hutchinson', opts.products);
  if (opts.products >= n) return exactTrace(operator, opts);
  const op = new CountingOperator(operator);
  const seed = opts.seed ?? 0;
  const zs = Array.from({ length: opts.products }, (_, p) => rademacher(seed, 'hutchinson', p, n));
  const ys = await applyAll(op, zs, batchOf(opts), (done) => opts.onProgress?.({ method: 'hutchinson', step: done, maxSteps: zs.length, products: op.products }));
  const { mean, stdError } = meanAndError(zs.map((z, i) => dot(z, ys[i])));
  return { method: 'hutchinson', estimate: mean, stdError, errorBound: MULTIPLE * stdError, products: op.products, exact: false };
}

/** An orthonormal basis of span(vs) (Gram–Schmidt twice), without directions that vanish to rounding. */
function orthonormalBasis(vs: Float64Array[]): Float64Array[] {
  const scale = Math.max(...vs.map(norm));
  const basis: Float64Array[] = [];
  for (const v of vs) {
    const w = new Float64Array(v);
    orthogonalize(w, basis);
    const r = norm(w);
    if (r > 1e-10 * scale) basis.push(scaled(1 / r, w));
  }
  return basis;
}

export async function hutchpp(operator: SymmetricOperator, opts: TraceOptions & { keepSketch?: boolean }): Promise<TraceEstimate> {
  const n = operator.dim;
  checkTraceBudget('hutchpp', opts.products);
  if (opts.products >= n) return exactTrace(operator, opts);
  const op = new CountingOperator(operator);
  const seed = opts.seed ?? 0;
  const batch = batchOf(opts);
  const m = opts.products;
  const s = Math.ceil(m / 3);
  const progress = (done: number) => opts.onProgress?.({ method: 'hutchpp', step: done, maxSteps: m, products: op.products });
  const sketch = Array.from({ length: s }, (_, p) => rademacher(seed, 'hutchppSketch', p, n));
  const Q = orthonormalBasis(await applyAll(op, sketch, batch, progress));
  const AQ = await applyAll(op, Q, batch, (done) => progress(s + done));
  const projected = Q.reduce((a, q, i) => a + dot(q, AQ[i]), 0);
  // The budget left after the sketch and A·Q (A·Q needs fewer products when the sketch has lower rank).
  const g = m - s - Q.length;
  const residual = Array.from({ length: g }, (_, p) => {
    const z = rademacher(seed, 'hutchppResidual', p, n);
    orthogonalize(z, Q);
    return z;
  });
  const AR = await applyAll(op, residual, batch, (done) => progress(s + Q.length + done));
  const { mean, stdError } = meanAndError(residual.map((z, i) => dot(z, AR[i])));
  return {
    method: 'hutchpp', estimate: projected + mean, stdError, errorBound: MULTIPLE * stdError, products: op.products, exact: false,
    sketchRank: Q.length, ...(opts.keepSketch ? { sketch: Q } : {}),
  };
}
