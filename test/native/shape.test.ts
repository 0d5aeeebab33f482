/** Shape, data-movement and indexing kernels of the native backend = tfjs's cpu backend (tables: cases/shape.ts, cases/misc.ts). */
import { describe } from 'vitest';
import { MISC_CASES } from './cases/misc.ts';
import { MOVEMENT_CASES, TRANSPOSE_CASES } from './cases/shape.ts';
import { caseTests, describeNative } from './harness.ts';

describeNative('native shape and indexing kernels = cpu', () => {
  describe('Transpose', () => caseTests(TRANSPOSE_CASES));
  describe('data movement', () => caseTests(MOVEMENT_CASES));
  describe('creation, Cast, Select, GatherV2, OneHot, Softmax, Diag, AddN, Prelu', () => caseTests(MISC_CASES));
});
