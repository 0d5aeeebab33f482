import type { LossKind } from '../../vocabulary.ts';
import { bceWithLogits } from './bce-with-logits.ts';
import { crossEntropy } from './cross-entropy.ts';
import { mse } from './mse.ts';
import type { LossMath } from './types.ts';

export type { LossMath } from './types.ts';

export const LOSSES: Record<LossKind, LossMath> = {
  CrossEntropyLoss: crossEntropy,
  MSELoss: mse,
  BCEWithLogitsLoss: bceWithLogits,
};
