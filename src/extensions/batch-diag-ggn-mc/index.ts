/** BatchDiagGGNMC (`diag_ggn_mc_batch`): diagonal of the Monte-Carlo GGN (loss-Hessian factor from sampled targets), per sample [n, *θ], subsampling respected. */
import { diagonalRows } from '../shared/diagonals.ts';
import { everyParametric } from '../shared/tables.ts';

export const batchDiagGGNMC = everyParametric((p) => [{ field: 'diag_ggn_mc_batch', kind: 'rows', value: diagonalRows(p, p.factors.sqrtMC!) }]);
