/**
 * The tests' dense eigensolver (the oracle for the spectra of small networks, and for the library's
 * tridiagonal QR): the cyclic Jacobi method, plane rotations that zero one off-diagonal entry at a
 * time until the off-diagonal mass is negligible. Slow (O(m³) per sweep) but simple, unconditionally
 * convergent and accurate to high relative precision (Demmel & Veselić 1992); tests check its
 * results (residuals, orthonormality) where they rely on them.
 */

export interface SymmetricEigen {
  /** Ascending. */
  values: number[];
  /** vectors[i] is the unit eigenvector of values[i]. */
  vectors: Float64Array[];
}

const MAX_SWEEPS = 100;

/** `A` is row-major m×m and symmetric (only its upper triangle is read). */
export function symmetricEigen(A: Float64Array, m: number): SymmetricEigen {
  const a = new Float64Array(A);
  for (let i = 0; i < m; i++) for (let j = 0; j < i; j++) a[i * m + j] = a[j * m + i];
  // v holds the eigenvectors as columns: v = Π rotations.
  const v = new Float64Array(m * m);
  for (let i = 0; i < m; i++) v[i * m + i] = 1;
  let scale = 0;
  for (let i = 0; i < m * m; i++) scale = Math.max(scale, Math.abs(a[i]));
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let off = 0;
    for (let p = 0; p < m; p++) for (let q = p + 1; q < m; q++) off += a[p * m + q] ** 2;
    if (Math.sqrt(off) <= 1e-15 * scale || scale === 0) return sorted(a, v, m);
    for (let p = 0; p < m; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = a[p * m + q];
        if (apq === 0) continue;
        // The rotation angle that zeroes a_pq: tan θ = t, the root of t² + 2τt − 1 = 0 of smaller magnitude.
        const tau = (a[q * m + q] - a[p * m + p]) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < m; k++) {
          const akp = a[k * m + p];
          const akq = a[k * m + q];
          a[k * m + p] = c * akp - s * akq;
          a[k * m + q] = s * akp + c * akq;
        }
        for (let k = 0; k < m; k++) {
          const apk = a[p * m + k];
          const aqk = a[q * m + k];
          a[p * m + k] = c * apk - s * aqk;
          a[q * m + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < m; k++) {
          const vkp = v[k * m + p];
          const vkq = v[k * m + q];
          v[k * m + p] = c * vkp - s * vkq;
          v[k * m + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  throw new Error(`Jacobi eigen-decomposition of a ${m}×${m} matrix did not converge in ${MAX_SWEEPS} sweeps`);
}

function sorted(a: Float64Array, v: Float64Array, m: number): SymmetricEigen {
  const order = Array.from({ length: m }, (_, i) => i).sort((i, j) => a[i * m + i] - a[j * m + j]);
  return {
    values: order.map((i) => a[i * m + i]),
    vectors: order.map((i) => Float64Array.from({ length: m }, (_, k) => v[k * m + i])),
  };
}

/** The symmetric tridiagonal matrix with diagonal `alpha` and off-diagonal `beta` (|beta| = |alpha| − 1), dense. */
export function tridiagonal(alpha: readonly number[], beta: readonly number[]): Float64Array {
  const m = alpha.length;
  const T = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    T[i * m + i] = alpha[i];
    if (i + 1 < m) T[i * m + i + 1] = T[(i + 1) * m + i] = beta[i];
  }
  return T;
}
