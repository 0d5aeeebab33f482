/** BatchGrad (`grad_batch`): per-sample gradients [n, *θ], scaled like the loss (ρ included). */
import { numel } from '../../io/host-tensor.ts';
import { fromRows } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import type { Quantity } from '../types.ts';

const field = SAVEFIELDS.BatchGrad;

export const batchGrad: Quantity = {
  name: 'BatchGrad',
  savefield: field,
  backprops: [],
  rule: (p) => [{ field, kind: 'rows', value: p.gradBatchSub() }],
  finalize: fromRows(field),
  combines: 'rows',
  outputElements: (theta) => numel(theta),
  work: { grad: true },
};
