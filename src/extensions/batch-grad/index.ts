/** BatchGrad (`grad_batch`): per-sample gradients [n, *θ], scaled like the loss (ρ included). */
import { everyParametric } from '../shared/tables.ts';

export const batchGrad = everyParametric((p) => [{ field: 'grad_batch', kind: 'rows', value: p.gradBatchSub() }]);
