/**
 * The one closeness check all tests use: |a − e| ≤ atol + rtol·max|e| elementwise, i.e. relative
 * to the largest magnitude of the expected tensor (how BackPACK's float64 fixtures are compared).
 */
import { expect } from 'vitest';

type Numeric = ArrayLike<number>;

export function maxAbs(a: Numeric): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function relError(actual: Numeric, expected: Numeric): number {
  const scale = maxAbs(expected) || 1;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  return worst;
}

export function expectClose(actual: Numeric, expected: Numeric, opts: { rtol?: number; atol?: number; label?: string } = {}): void {
  const { rtol = 1e-4, atol = 0, label = '' } = opts;
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const scale = maxAbs(expected);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= atol + rtol * scale)) {
      expect.fail(`${label}: element ${i}: got ${actual[i]}, expected ${expected[i]} (|diff| ${diff.toExponential(3)} > ${(atol + rtol * scale).toExponential(3)}; max |expected| ${scale.toExponential(3)})`);
    }
  }
}
