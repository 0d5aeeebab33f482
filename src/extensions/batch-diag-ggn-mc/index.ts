/** BatchDiagGGNMC (`diag_ggn_mc_batch`): diagonal of the Monte-Carlo GGN (loss-Hessian factor from sampled targets), per sample [n, *θ], subsampling respected. */
import { diagonalRows } from '../shared/diagonals.ts';
import type { Rule } from '../types.ts';

export const batchDiagGGNMC: Rule = (p) => [{ field: 'diag_ggn_mc_batch', kind: 'rows', value: diagonalRows(p, p.factors.sqrtMC!) }];
