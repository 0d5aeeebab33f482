/** SqrtGGNExact (`sqrt_ggn_exact`): V with V Vᵀ = GGN, per sample, [C, N, *θ] (C = network outputs). */
import { sqrtQuantity } from '../shared/sqrt-ggn.ts';

export const sqrtGGNExact = sqrtQuantity('SqrtGGNExact', 'sqrtExact');
