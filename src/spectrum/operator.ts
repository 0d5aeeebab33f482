/**
 * A symmetric linear operator on R^n as the Krylov methods see it: vectors in and out are float64
 * on the host, and one `apply` of k vectors costs k matrix-vector products (which an operator may
 * compute in one pass over the data). The curvature operator (curvature-operator.ts) is one; a
 * dense matrix (below) is another, for checks and small problems.
 */
import { ShapeError } from '../errors/index.ts';

export interface SymmetricOperator {
  /** The dimension n. */
  readonly dim: number;
  /** A·x for each x (each of length n). */
  apply(xs: Float64Array[]): Promise<Float64Array[]>;
}

/** A dense symmetric n×n matrix (row-major) as an operator. */
export function denseOperator(A: Float64Array, n: number): SymmetricOperator {
  if (A.length !== n * n) throw new ShapeError(`a dense ${n}×${n} operator needs ${n * n} entries, got ${A.length}`);
  return {
    dim: n,
    async apply(xs) {
      return xs.map((x) => {
        const y = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += A[i * n + j] * x[j];
          y[i] = s;
        }
        return y;
      });
    },
  };
}

/** The operator with a count of the products it has computed (what every result reports as its cost). */
export class CountingOperator implements SymmetricOperator {
  products = 0;
  constructor(private readonly inner: SymmetricOperator) {}

  get dim(): number {
    return this.inner.dim;
  }

  async apply(xs: Float64Array[]): Promise<Float64Array[]> {
    if (xs.length === 0) return [];
    const ys = await this.inner.apply(xs);
    this.products += xs.length;
    return ys;
  }
}
