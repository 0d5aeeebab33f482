/**
 * KFRA (`kfra`): Kronecker factors with B the batch-averaged GGN backpropagated as a matrix
 * (Botev et al. 2017). B is not decomposable over shards: every backward step averages over the
 * whole batch, so it is computed by a per-layer collective (core/kfra.ts), not by this rule.
 * The rule returns only A's partial sum; the collective adds `kfra.0`.
 */
import type { Rule } from '../types.ts';
import { inputFactorSum } from '../shared/kronecker.ts';

export const kfra: Rule = (p) => (p.param === 'weight' ? [{ field: 'kfra.A', kind: 'sum', value: inputFactorSum(p, 'KFRA') }] : []);
