/** SqrtGGNMC (`sqrt_ggn_mc`): Monte-Carlo V with E[V Vᵀ] = GGN, per sample, [M, N, *θ]. */
import { sqrtRows } from '../shared/sqrt-ggn.ts';
import type { Rule } from '../types.ts';

export const sqrtGGNMC: Rule = (p) => sqrtRows(p, p.factors.sqrtMC![0], 'sqrt_ggn_mc');
