/** DiagGGNExact (`diag_ggn_exact`): diagonal of the exact GGN (J ᵀ S S ᵀ J with S the exact loss-Hessian factor), summed over samples [*θ]. */
import { diagonalSum } from '../shared/diagonals.ts';
import { everyParametric } from '../shared/tables.ts';

export const diagGGNExact = everyParametric((p) => [{ field: 'diag_ggn_exact', kind: 'sum', value: diagonalSum(p, p.factors.sqrtExact!) }]);
