/** Float64 vector arithmetic of the Krylov methods (all on the host; n is the parameter count). */

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export const norm = (a: Float64Array): number => Math.sqrt(dot(a, a));

/** y ← y + c·x */
export function axpy(c: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += c * x[i];
}

export function scaled(c: number, x: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = c * x[i];
  return y;
}

/**
 * Removes from w its components along the orthonormal `basis`, twice: classical Gram–Schmidt
 * repeated once is orthogonal to working precision ("twice is enough", Giraud et al. 2005), which
 * is what full reorthogonalisation of Lanczos needs to keep its Ritz values free of ghost copies.
 */
export function orthogonalize(w: Float64Array, basis: readonly Float64Array[]): void {
  for (let pass = 0; pass < 2; pass++) {
    const coeffs = basis.map((q) => dot(q, w));
    basis.forEach((q, i) => axpy(-coeffs[i], q, w));
  }
}

/** Σ_i c_i·vs_i */
export function combine(coeffs: ArrayLike<number>, vs: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(vs[0].length);
  vs.forEach((v, i) => axpy(coeffs[i], v, out));
  return out;
}
