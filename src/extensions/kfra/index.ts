/**
 * KFRA (`kfra`): Kronecker factors with B the batch-averaged GGN backpropagated as a matrix
 * (Botev et al. 2017). B is not decomposable over shards: every backward step averages over the
 * whole batch, so it is computed by a per-layer collective (core/kfra.ts), not by this rule.
 * The rule returns only A's partial sum; the collective adds `kfra.0`.
 */
import { kronecker } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { inputFactorSum, kroneckerElements } from '../shared/kronecker.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.KFRA;

export const kfra: Quantity = {
  name: 'KFRA',
  savefield: field,
  backprops: ['kfra'],
  rule: (p) => (p.param === 'weight' ? [{ field: `${field}.A`, kind: 'sum', value: inputFactorSum(p, 'KFRA') }] : []),
  // Its recursion crosses every later layer's Jacobian, sample-dependent or not.
  needs: { own: ['kronecker'], after: ['jacobianStructure'] },
  finalize: kronecker(field),
  combines: 'collective per layer',
  outputElements: kroneckerElements,
  work: null,
};
