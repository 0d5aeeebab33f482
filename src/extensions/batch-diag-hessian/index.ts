/** BatchDiagHessian (`diag_h_batch`): diagonal of the exact Hessian (signed factors, the residual terms of modules with a nonzero input Hessian included), per sample [n, *θ], subsampling respected. */
import { diagonalQuantity } from '../shared/diagonals.ts';

export const batchDiagHessian = diagonalQuantity('BatchDiagHessian', 'hessian', true);
