/** BatchGrad (`grad_batch`): per-sample gradients [n, *θ], scaled like the loss (ρ included). */
import type { Rule } from '../types.ts';

export const batchGrad: Rule = (p) => [{ field: 'grad_batch', kind: 'rows', value: p.gradBatchSub() }];
