/** BatchDiagGGNExact (`diag_ggn_exact_batch`): diagonal of the exact GGN (J ᵀ S S ᵀ J with S the exact loss-Hessian factor), per sample [n, *θ], subsampling respected. */
import { diagonalQuantity } from '../shared/diagonals.ts';

export const batchDiagGGNExact = diagonalQuantity('BatchDiagGGNExact', 'sqrtExact', true);
