/** DiagHessian (`diag_h`): diagonal of the exact Hessian (signed factors, the residual terms of modules with a nonzero input Hessian included), summed over samples [*θ]. */
import { diagonalQuantity } from '../shared/diagonals.ts';

export const diagHessian = diagonalQuantity('DiagHessian', 'hessian', false);
