/** BatchMatMul of the native backend (a BLAS) = tfjs's cpu backend (table: cases/matmul.ts). */
import { MATMUL_CASES } from './cases/matmul.ts';
import { caseTests, describeNative } from './harness.ts';

describeNative('native BatchMatMul = cpu', () => caseTests(MATMUL_CASES));
