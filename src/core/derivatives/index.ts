/** Every module kind's math, in one compiler-checked table. */
import type { ModuleKind } from '../../vocabulary.ts';
import { makeBatchNorm } from './batch-norm.ts';
import { makeConv } from './conv.ts';
import { makeConvTranspose } from './conv-transpose.ts';
import { makeElementwise } from './elementwise.ts';
import { linear } from './linear.ts';
import { makeMaxPool } from './max-pool.ts';
import { groupNorm, layerNorm } from './normalization.ts';
import { adaptiveAvgPool, avgPool } from './separable-pool.ts';
import { dropout, flatten, identity, zeroPad2d } from './structural.ts';
import type { ModuleMath } from './types.ts';

export const DERIVATIVES = {
  Linear: linear,
  Conv1d: makeConv(1),
  Conv2d: makeConv(2),
  Conv3d: makeConv(3),
  ConvTranspose1d: makeConvTranspose(1),
  ConvTranspose2d: makeConvTranspose(2),
  ConvTranspose3d: makeConvTranspose(3),
  MaxPool1d: makeMaxPool(1),
  MaxPool2d: makeMaxPool(2),
  MaxPool3d: makeMaxPool(3),
  AvgPool1d: avgPool(1),
  AvgPool2d: avgPool(2),
  AvgPool3d: avgPool(3),
  AdaptiveAvgPool1d: adaptiveAvgPool(1),
  AdaptiveAvgPool2d: adaptiveAvgPool(2),
  AdaptiveAvgPool3d: adaptiveAvgPool(3),
  ZeroPad2d: zeroPad2d,
  Flatten: flatten,
  Dropout: dropout,
  Identity: identity,
  ReLU: makeElementwise('ReLU'),
  Sigmoid: makeElementwise('Sigmoid'),
  Tanh: makeElementwise('Tanh'),
  LeakyReLU: makeElementwise('LeakyReLU'),
  ELU: makeElementwise('ELU'),
  SELU: makeElementwise('SELU'),
  LogSigmoid: makeElementwise('LogSigmoid'),
  BatchNorm1d: makeBatchNorm('BatchNorm1d'),
  BatchNorm2d: makeBatchNorm('BatchNorm2d'),
  BatchNorm3d: makeBatchNorm('BatchNorm3d'),
  LayerNorm: layerNorm,
  GroupNorm: groupNorm,
} satisfies { [K in ModuleKind]: ModuleMath<K, any> };

/** The math of a kind, with its config type erased (layers carry their own resolved config). */
export function mathOf(kind: ModuleKind): ModuleMath<ModuleKind, unknown> {
  return DERIVATIVES[kind] as unknown as ModuleMath<ModuleKind, unknown>;
}
