/** SqrtGGNMC (`sqrt_ggn_mc`): Monte-Carlo V with E[V Vᵀ] = GGN, per sample, [M, N, *θ]. */
import { sqrtQuantity } from '../shared/sqrt-ggn.ts';

export const sqrtGGNMC = sqrtQuantity('SqrtGGNMC', 'sqrtMC');
