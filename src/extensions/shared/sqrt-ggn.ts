/**
 * The per-sample square-root factor J_θᵀ S [v, n, *θ], returned as rows [n, v, *θ] (the reducer
 * concatenates rows by global sample and swaps the axes back to BackPACK's [v, N, *θ]).
 */
import type { Factor } from '../../core/factors.ts';
import { numel } from '../../io/host-tensor.ts';
import { fromSqrtRows } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import type { ParamContext, Quantity, RuleOutput } from '../types.ts';

export function sqrtRows(p: ParamContext, factor: Factor, field: string): RuleOutput[] {
  const q = p.subRows(p.paramSqrt(factor), 1);
  const perm = [1, 0, ...q.shape.slice(2).map((_, i) => i + 2)];
  return [{ field, kind: 'rows', value: q.transpose(perm) }];
}

/** The record of SqrtGGNExact or SqrtGGNMC: J_θᵀ S per sample, [C or M, N, *θ]. */
export function sqrtQuantity(name: 'SqrtGGNExact' | 'SqrtGGNMC', factor: 'sqrtExact' | 'sqrtMC'): Quantity {
  const field = SAVEFIELDS[name];
  return {
    name,
    savefield: field,
    backprops: [factor],
    rule: (p) => sqrtRows(p, p.factors[factor]![0], field),
    finalize: fromSqrtRows(field),
    combines: 'rows',
    // Columns: the network's outputs (exact) or the MC samples.
    outputElements: (theta, s) => (factor === 'sqrtExact' ? s.classes : s.mc) * numel(theta),
    work: { factor, always: true },
  };
}
