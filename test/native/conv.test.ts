/** The fused conv kernels on native = their composition from tf ops on cpu (table: cases/conv.ts). */
import { CONV_CASES } from './cases/conv.ts';
import { caseTests, describeNative } from './harness.ts';

describeNative('native fused conv kernels = composed tf ops on cpu', () => caseTests(CONV_CASES));
