/** BatchGrad (`grad_batch`): per-sample gradients [n, *θ], scaled like the loss (ρ included). */
import type { FirstOrderRule, RuleTable } from '../types.ts';

const perSample: FirstOrderRule = (p) => [{ field: 'grad_batch', kind: 'rows', value: p.gradBatchSub() }];

export const batchGrad = {
  Linear: perSample,
  Conv1d: perSample, Conv2d: perSample, Conv3d: perSample,
  ConvTranspose1d: perSample, ConvTranspose2d: perSample, ConvTranspose3d: perSample,
  BatchNorm1d: perSample, BatchNorm2d: perSample, BatchNorm3d: perSample,
} satisfies RuleTable;
