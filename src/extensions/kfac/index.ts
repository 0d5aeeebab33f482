/** KFAC (`kfac`): Kronecker factors with B from the Monte-Carlo loss-Hessian factor (Martens & Grosse 2015). */
import { kronecker } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { kroneckerElements, kroneckerRule } from '../shared/kronecker.ts';
import type { Quantity } from '../types.ts';

export const kfac: Quantity = {
  name: 'KFAC',
  savefield: SAVEFIELDS.KFAC,
  backprops: ['sqrtMC'],
  rule: kroneckerRule('KFAC', SAVEFIELDS.KFAC, (p) => p.factors.sqrtMC![0]),
  needs: { own: ['kronecker'] },
  finalize: kronecker(SAVEFIELDS.KFAC),
  combines: 'sum',
  outputElements: kroneckerElements,
  work: null,
};
