/** Elementwise kernels of the native backend = tfjs's cpu backend (tables: cases/elementwise.ts). */
import { describe } from 'vitest';
import { BINARY_CASES, UNARY_CASES } from './cases/elementwise.ts';
import { caseTests, describeNative } from './harness.ts';

describeNative('native elementwise kernels = cpu', () => {
  describe('unary', () => caseTests(UNARY_CASES));
  describe('binary', () => caseTests(BINARY_CASES));
});
