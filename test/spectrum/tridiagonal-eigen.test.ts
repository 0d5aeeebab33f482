/**
 * The tridiagonal QR (src/spectrum/tridiagonal-eigen.ts) against the dense Jacobi oracle on seeded
 * random tridiagonal matrices (m = 1…120), on one with repeated eigenvalues (a direct sum of equal
 * blocks) and on one that is already diagonal: the same eigenvalues (atol 1e-12·‖T‖), tracked rows
 * that are rows of an orthonormal eigenvector matrix of T (residuals and orthonormality ≤ 1e-12),
 * and, for the rows tracked alone, the same values as when every row is tracked.
 */
import { describe, expect, it } from 'vitest';
import { tridiagonalEigen } from '../../src/spectrum/tridiagonal-eigen.ts';
import { symmetricEigen, tridiagonal } from '../helpers/jacobi-eigen.ts';
import { mulberry32 } from '../helpers/oracle.ts';

function check(a: number[], b: number[]): void {
  const m = a.length;
  const T = tridiagonal(a, b);
  const scale = Math.max(1, ...a.map(Math.abs), ...b.map(Math.abs));
  const full = tridiagonalEigen(a, b, Array.from({ length: m }, (_, r) => r));
  const oracle = symmetricEigen(T, m).values;
  full.values.forEach((v, i) => expect(Math.abs(v - oracle[i]), `value ${i} of ${m}`).toBeLessThan(1e-12 * scale));
  const vec = (i: number) => Float64Array.from({ length: m }, (_, r) => full.rows.get(r)![i]);
  for (let i = 0; i < m; i++) {
    const v = vec(i);
    for (let p = 0; p < m; p++) {
      let y = 0;
      for (let q = 0; q < m; q++) y += T[p * m + q] * v[q];
      expect(Math.abs(y - full.values[i] * v[p])).toBeLessThan(1e-12 * scale);
    }
    for (let j = 0; j <= i; j++) expect(Math.abs(vec(j).reduce((s, x, r) => s + x * v[r], 0) - (i === j ? 1 : 0))).toBeLessThan(1e-12);
  }
  const ends = tridiagonalEigen(a, b, [0, m - 1]);
  expect(ends.values).toEqual(full.values);
  expect([...ends.rows.get(m - 1)!]).toEqual([...full.rows.get(m - 1)!]);
}

describe('tridiagonal QR with Wilkinson shifts', () => {
  it.each([1, 2, 3, 7, 30, 120])('random m = %i', (m) => {
    const rng = mulberry32(m);
    check(Array.from({ length: m }, () => rng() - 0.5), Array.from({ length: m - 1 }, () => rng() - 0.5));
  });

  it('repeated eigenvalues (two equal blocks split by a zero) and a diagonal matrix', () => {
    check([2, 1, 3, 2, 1, 3], [0.5, 0.25, 0, 0.5, 0.25]);
    check([3, -1, 2, 0], [0, 0, 0]);
  });
});
