/**
 * The suite covers the native backend: every kernel NATIVE_KERNELS registers is the kernel under
 * test of at least one case, and case names are unique (they seed the inputs and name findings).
 * Needs no addon: it reads the tables only.
 */
import { describe, expect, it } from 'vitest';
import { NATIVE_KERNELS } from '../../src/backends/native/register.ts';
import { ALL_CASES } from './cases/index.ts';

describe('the native conformance suite covers every native kernel', () => {
  it('each registered kernel has cases', () => {
    const tested = new Set(ALL_CASES.map((c) => c.kernel));
    expect(NATIVE_KERNELS.map((k) => k.kernelName).filter((k) => !tested.has(k))).toEqual([]);
  });

  it('case names are unique', () => {
    const seen = new Set<string>();
    const dup = ALL_CASES.map((c) => c.name).filter((n) => (seen.has(n) ? true : (seen.add(n), false)));
    expect(dup).toEqual([]);
  });
});
