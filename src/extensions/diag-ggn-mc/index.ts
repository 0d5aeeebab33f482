/** DiagGGNMC (`diag_ggn_mc`): diagonal of the Monte-Carlo GGN (loss-Hessian factor from sampled targets), summed over samples [*θ]. */
import { diagonalSum } from '../shared/diagonals.ts';
import { everyParametric } from '../shared/tables.ts';

export const diagGGNMC = everyParametric((p) => [{ field: 'diag_ggn_mc', kind: 'sum', value: diagonalSum(p, p.factors.sqrtMC!) }]);
