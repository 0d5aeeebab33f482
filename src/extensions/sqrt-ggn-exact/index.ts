/** SqrtGGNExact (`sqrt_ggn_exact`): V with V Vᵀ = GGN, per sample, [C, N, *θ] (C = network outputs). */
import { sqrtRows } from '../shared/sqrt-ggn.ts';
import type { Rule } from '../types.ts';

export const sqrtGGNExact: Rule = (p) => sqrtRows(p, p.factors.sqrtExact![0], 'sqrt_ggn_exact');
