/** SqrtGGNMC (`sqrt_ggn_mc`): Monte-Carlo V with E[V Vᵀ] = GGN, per sample, [M, N, *θ]. */
import { everyParametric } from '../shared/tables.ts';
import { sqrtRows } from '../shared/sqrt-ggn.ts';

export const sqrtGGNMC = everyParametric((p) => sqrtRows(p, p.factors.sqrtMC![0], 'sqrt_ggn_mc'));
