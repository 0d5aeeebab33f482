/** BatchDiagGGNMC (`diag_ggn_mc_batch`): diagonal of the Monte-Carlo GGN (loss-Hessian factor from sampled targets), per sample [n, *θ], subsampling respected. */
import { diagonalQuantity } from '../shared/diagonals.ts';

export const batchDiagGGNMC = diagonalQuantity('BatchDiagGGNMC', 'sqrtMC', true);
