/** BatchDiagHessian (`diag_h_batch`): diagonal of the exact Hessian (signed factors, residual terms of curved activations included), per sample [n, *θ], subsampling respected. */
import { diagonalRows } from '../shared/diagonals.ts';
import type { Rule } from '../types.ts';

export const batchDiagHessian: Rule = (p) => [{ field: 'diag_h_batch', kind: 'rows', value: diagonalRows(p, p.factors.hessian!) }];
