/** DiagGGNExact (`diag_ggn_exact`): diagonal of the exact GGN (J ᵀ S S ᵀ J with S the exact loss-Hessian factor), summed over samples [*θ]. */
import { diagonalQuantity } from '../shared/diagonals.ts';

export const diagGGNExact = diagonalQuantity('DiagGGNExact', 'sqrtExact', false);
