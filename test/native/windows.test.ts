/** The window kernels on native = the cpu backend's host loops (table: cases/windows.ts). */
import { WINDOW_CASES } from './cases/windows.ts';
import { caseTests, describeNative } from './harness.ts';

describeNative('native window kernels = cpu host loops', () => caseTests(WINDOW_CASES));
