/**
 * The quantity table: one record per quantity, keyed by its name, naming the savefield that
 * vocabulary.ts gives it (the files and messages use that), and stating the backprop and module
 * capabilities its rule relies on — checked here against each other so a record cannot drift.
 */
import { describe, expect, it } from 'vitest';
import { QUANTITIES } from '../../src/extensions/index.ts';
import { EXTENSION_NAMES, SAVEFIELDS } from '../../src/vocabulary.ts';

describe('quantity records', () => {
  it('one per quantity name, keyed by it, with its vocabulary savefield', () => {
    expect(Object.keys(QUANTITIES).sort()).toEqual([...EXTENSION_NAMES].sort());
    for (const [key, q] of Object.entries(QUANTITIES)) {
      expect(q.name).toBe(key);
      expect(q.savefield).toBe(SAVEFIELDS[key as keyof typeof SAVEFIELDS]);
    }
  });

  it('quantities backpropagating the exact Hessian need every later input Hessian; Kronecker ones their own factors', () => {
    for (const q of Object.values(QUANTITIES)) {
      expect(q.backprops.includes('hessian'), q.name).toBe(q.needs?.after?.includes('inputHessian') ?? false);
      expect(['kfac', 'kflr', 'kfra'].includes(q.savefield), q.name).toBe(q.needs?.own?.includes('kronecker') ?? false);
    }
  });

  it('row quantities output per sample, the others per job (the one size estimate reads outputElements)', () => {
    const sizes = { classes: 3, mc: 2, vectors: 4 };
    expect(QUANTITIES.BatchGrad.outputElements([5, 2], sizes)).toBe(10);
    expect(QUANTITIES.BatchL2Grad.outputElements([5, 2], sizes)).toBe(1);
    expect(QUANTITIES.SqrtGGNExact.outputElements([5, 2], sizes)).toBe(30);
    expect(QUANTITIES.SqrtGGNMC.outputElements([5, 2], sizes)).toBe(20);
    expect(QUANTITIES.HMP.outputElements([5, 2], sizes)).toBe(40);
    // Weight [out 5, in 2]: B 5×5 and A 2×2.
    expect(QUANTITIES.KFLR.outputElements([5, 2], sizes)).toBe(29);
  });
});
