/** SqrtGGNExact (`sqrt_ggn_exact`): V with V Vᵀ = GGN, per sample, [C, N, *θ] (C = network outputs). */
import { everyParametric } from '../shared/tables.ts';
import { sqrtRows } from '../shared/sqrt-ggn.ts';

export const sqrtGGNExact = everyParametric((p) => sqrtRows(p, p.factors.sqrtExact![0], 'sqrt_ggn_exact'));
