/** Reductions of the native backend = tfjs's cpu backend (tables: cases/reduce.ts). */
import { describe } from 'vitest';
import { ARG_CASES, REDUCE_CASES } from './cases/reduce.ts';
import { caseTests, describeNative } from './harness.ts';

describeNative('native reductions = cpu', () => {
  describe('Sum, Max, Min, Prod, Mean, Any, All', () => caseTests(REDUCE_CASES));
  describe('ArgMax, ArgMin', () => caseTests(ARG_CASES));
});
