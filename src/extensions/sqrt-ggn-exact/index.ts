/** SqrtGGNExact (`sqrt_ggn_exact`): V with V Vᵀ = GGN, per sample, [C, N, *θ] (C = network outputs). */
import { numel } from '../../io/host-tensor.ts';
import { fromSqrtRows } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import { sqrtRows } from '../shared/sqrt-ggn.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.SqrtGGNExact;

export const sqrtGGNExact: Quantity = {
  name: 'SqrtGGNExact',
  savefield: field,
  backprops: ['sqrtExact'],
  rule: (p) => sqrtRows(p, p.factors.sqrtExact![0], field),
  finalize: fromSqrtRows(field),
  combines: 'rows',
  outputElements: (theta, s) => s.classes * numel(theta),
  work: { factor: 'sqrtExact', always: true },
};
