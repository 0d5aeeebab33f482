/**
 * Eigenvalues of Lanczos' symmetric tridiagonal T (diagonal `alpha`, off-diagonal `beta`) by the
 * implicit symmetric QR algorithm with Wilkinson shifts (Golub & Van Loan, Matrix Computations,
 * Alg. 8.3.2 and §8.3.5), tracking only the rows of the eigenvector matrix that are asked for:
 * row 0 gives Gauss quadrature weights (SLQ), the last row the Ritz residuals (Lanczos' stopping
 * rule), all rows the Ritz vectors. O(m²) for values and tracked rows, where dense Jacobi is O(m³):
 * the convergence check after every Lanczos step stays cheap at hundreds of steps.
 */
import { BackpackError, ErrorCode } from '../errors/index.ts';

export interface TridiagonalEigen {
  /** Ascending. */
  values: number[];
  /** rows[r][i]: component r of the unit eigenvector of values[i], for each tracked row r. */
  rows: Map<number, Float64Array>;
}

/** GvL's givens(a, b): c, s with [c s; −s c]ᵀ [a; b] = [r; 0]. */
function givens(a: number, b: number): [number, number] {
  if (b === 0) return [1, 0];
  if (Math.abs(b) > Math.abs(a)) {
    const t = -a / b;
    const s = 1 / Math.sqrt(1 + t * t);
    return [s * t, s];
  }
  const t = -b / a;
  const c = 1 / Math.sqrt(1 + t * t);
  return [c, c * t];
}

const EPS = Number.EPSILON;

/** `track`: the rows of the eigenvector matrix wanted (e.g. [0, m − 1]; all of 0…m−1 for the vectors). */
export function tridiagonalEigen(alpha: readonly number[], beta: readonly number[], track: readonly number[]): TridiagonalEigen {
  const m = alpha.length;
  const d = Float64Array.from(alpha);
  const e = Float64Array.from({ length: Math.max(0, m - 1) }, (_, i) => beta[i]);
  // Tracked rows of Q (Q starts as the identity; T = Q Λ Qᵀ at the end).
  const rows = new Map(track.map((r) => [r, Float64Array.from({ length: m }, (_, j) => (j === r ? 1 : 0))]));
  const tracked = [...rows.values()];
  let hi = m - 1;
  let iterations = 0;
  while (hi > 0) {
    // Deflate converged off-diagonal entries from the bottom.
    if (Math.abs(e[hi - 1]) <= EPS * (Math.abs(d[hi - 1]) + Math.abs(d[hi]))) {
      e[hi - 1] = 0;
      hi--;
      continue;
    }
    let lo = hi - 1;
    while (lo > 0 && Math.abs(e[lo - 1]) > EPS * (Math.abs(d[lo - 1]) + Math.abs(d[lo]))) lo--;
    if (lo > 0) e[lo - 1] = 0;
    if (++iterations > 50 * m) throw new BackpackError(ErrorCode.Internal, `tridiagonal QR did not converge for a ${m}×${m} matrix`, false);
    qrStep(d, e, lo, hi, tracked);
  }
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => d[i] - d[j]);
  return { values: order.map((i) => d[i]), rows: new Map([...rows].map(([r, q]) => [r, Float64Array.from(order, (i) => q[i])])) };
}

/**
 * One implicit QR step with a Wilkinson shift on the unreduced block [lo, hi]: a bulge introduced at
 * the top is chased down by Givens rotations T ← GᵀTG (the band is tridiagonal plus the bulge b).
 */
function qrStep(d: Float64Array, e: Float64Array, lo: number, hi: number, tracked: Float64Array[]): void {
  const delta = (d[hi - 1] - d[hi]) / 2;
  const t2 = e[hi - 1] * e[hi - 1];
  const mu = d[hi] - t2 / (delta + (delta >= 0 ? 1 : -1) * Math.sqrt(delta * delta + t2));
  let x = d[lo] - mu;
  let z = e[lo];
  for (let k = lo; k < hi; k++) {
    const [c, s] = givens(x, z);
    // The 2×2 block [d_k e_k; e_k d_k+1] and its neighbours: e_{k−1} (with the bulge) above, e_{k+1} below.
    if (k > lo) e[k - 1] = c * e[k - 1] - s * z; // z held the bulge at (k+1, k−1); it is annihilated
    const dk = d[k];
    const dk1 = d[k + 1];
    const ek = e[k];
    d[k] = c * c * dk - 2 * c * s * ek + s * s * dk1;
    d[k + 1] = s * s * dk + 2 * c * s * ek + c * c * dk1;
    e[k] = c * s * (dk - dk1) + (c * c - s * s) * ek;
    if (k + 1 < hi) {
      // The rotation of rows/columns k, k+1 spreads e_{k+1} into a new bulge at (k+2, k).
      x = e[k];
      z = -s * e[k + 1];
      e[k + 1] = c * e[k + 1];
    }
    for (const q of tracked) {
      const a = q[k];
      const b = q[k + 1];
      q[k] = c * a - s * b;
      q[k + 1] = s * a + c * b;
    }
  }
}
