/** KFLR (`kflr`): Kronecker factors with B from the exact loss-Hessian factor (Botev et al. 2017). */
import { kronecker } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { kroneckerElements, kroneckerRule } from '../shared/kronecker.ts';
import type { Quantity } from '../types.ts';

export const kflr: Quantity = {
  name: 'KFLR',
  savefield: SAVEFIELDS.KFLR,
  backprops: ['sqrtExact'],
  rule: kroneckerRule('KFLR', SAVEFIELDS.KFLR, (p) => p.factors.sqrtExact![0]),
  needs: { own: ['kronecker'] },
  finalize: kronecker(SAVEFIELDS.KFLR),
  combines: 'sum',
  outputElements: kroneckerElements,
  work: null,
};
