/** SqrtGGNMC (`sqrt_ggn_mc`): Monte-Carlo V with E[V Vᵀ] = GGN, per sample, [M, N, *θ]. */
import { numel } from '../../io/host-tensor.ts';
import { fromSqrtRows } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { sqrtRows } from '../shared/sqrt-ggn.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.SqrtGGNMC;

export const sqrtGGNMC: Quantity = {
  name: 'SqrtGGNMC',
  savefield: field,
  backprops: ['sqrtMC'],
  rule: (p) => sqrtRows(p, p.factors.sqrtMC![0], field),
  finalize: fromSqrtRows(field),
  combines: 'rows',
  outputElements: (theta, s) => s.mc * numel(theta),
  work: { factor: 'sqrtMC', always: true },
};
