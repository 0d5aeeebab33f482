/** DiagGGNMC (`diag_ggn_mc`): diagonal of the Monte-Carlo GGN (loss-Hessian factor from sampled targets), summed over samples [*θ]. */
import { diagonalSum } from '../shared/diagonals.ts';
import type { Rule } from '../types.ts';

export const diagGGNMC: Rule = (p) => [{ field: 'diag_ggn_mc', kind: 'sum', value: diagonalSum(p, p.factors.sqrtMC!) }];
