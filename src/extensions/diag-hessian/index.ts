/** DiagHessian (`diag_h`): diagonal of the exact Hessian (signed factors, residual terms of curved activations included), summed over samples [*θ]. */
import { diagonalSum } from '../shared/diagonals.ts';
import { everyParametric } from '../shared/tables.ts';

export const diagHessian = everyParametric((p) => [{ field: 'diag_h', kind: 'sum', value: diagonalSum(p, p.factors.hessian!) }]);
