/**
 * The per-sample square-root factor J_θᵀ S [v, n, *θ], returned as rows [n, v, *θ] (the reducer
 * concatenates rows by global sample and swaps the axes back to BackPACK's [v, N, *θ]).
 */
import type { Factor } from '../../core/factors.ts';
import type { ParamContext, RuleOutput } from '../types.ts';

export function sqrtRows(p: ParamContext, factor: Factor, field: string): RuleOutput[] {
  const q = p.subRows(p.paramSqrt(factor), 1);
  const perm = [1, 0, ...q.shape.slice(2).map((_, i) => i + 2)];
  return [{ field, kind: 'rows', value: q.transpose(perm) }];
}
