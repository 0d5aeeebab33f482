/** DiagGGNMC (`diag_ggn_mc`): diagonal of the Monte-Carlo GGN (loss-Hessian factor from sampled targets), summed over samples [*θ]. */
import { diagonalQuantity } from '../shared/diagonals.ts';

export const diagGGNMC = diagonalQuantity('DiagGGNMC', 'sqrtMC', false);
