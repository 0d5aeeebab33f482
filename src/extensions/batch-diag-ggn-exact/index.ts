/** BatchDiagGGNExact (`diag_ggn_exact_batch`): diagonal of the exact GGN (J ᵀ S S ᵀ J with S the exact loss-Hessian factor), per sample [n, *θ], subsampling respected. */
import { diagonalRows } from '../shared/diagonals.ts';
import type { Rule } from '../types.ts';

export const batchDiagGGNExact: Rule = (p) => [{ field: 'diag_ggn_exact_batch', kind: 'rows', value: diagonalRows(p, p.factors.sqrtExact!) }];
