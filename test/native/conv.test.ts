/**
 * The fused conv kernels on native = their composition from tf ops on cpu (table: cases/conv.ts):
 * as the device runs them (plain products on oneDNN where it is installed), and again with oneDNN
 * off, so the device's own im2col kernels for the plain products are tested on every machine.
 */
import { afterAll, beforeAll } from 'vitest';
import { CONV_CASES, isPlainProduct, WIDE_CONV_CASES } from './cases/conv.ts';
import { caseTests, describeNative, nativeBackend } from './harness.ts';

describeNative('native fused conv kernels = composed tf ops on cpu', () => caseTests(CONV_CASES));

describeNative('native plain conv products on the device kernels alone (oneDNN off) = composed tf ops on cpu', () => {
  beforeAll(() => void nativeBackend().addon.useConvLibrary(false));
  afterAll(() => void nativeBackend().addon.useConvLibrary(true));
  caseTests([...CONV_CASES, ...WIDE_CONV_CASES].filter(isPlainProduct));
});
