/** DiagGGNExact (`diag_ggn_exact`): diagonal of the exact GGN (J ᵀ S S ᵀ J with S the exact loss-Hessian factor), summed over samples [*θ]. */
import { diagonalSum } from '../shared/diagonals.ts';
import type { Rule } from '../types.ts';

export const diagGGNExact: Rule = (p) => [{ field: 'diag_ggn_exact', kind: 'sum', value: diagonalSum(p, p.factors.sqrtExact!) }];
