/** BatchDiagGGNExact (`diag_ggn_exact_batch`): diagonal of the exact GGN (J ᵀ S S ᵀ J with S the exact loss-Hessian factor), per sample [n, *θ], subsampling respected. */
import { diagonalRows } from '../shared/diagonals.ts';
import { everyParametric } from '../shared/tables.ts';

export const batchDiagGGNExact = everyParametric((p) => [{ field: 'diag_ggn_exact_batch', kind: 'rows', value: diagonalRows(p, p.factors.sqrtExact!) }]);
