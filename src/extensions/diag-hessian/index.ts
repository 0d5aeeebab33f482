/** DiagHessian (`diag_h`): diagonal of the exact Hessian (signed factors, residual terms of curved activations included), summed over samples [*θ]. */
import { diagonalSum } from '../shared/diagonals.ts';
import type { Rule } from '../types.ts';

export const diagHessian: Rule = (p) => [{ field: 'diag_h', kind: 'sum', value: diagonalSum(p, p.factors.hessian!) }];
