/** Builders for rule tables: most quantities treat every parametric module alike. */
import { UnsupportedModuleError } from '../../errors/index.ts';
import type { ParametricKind } from '../../vocabulary.ts';
import type { Rule, RuleTable } from '../types.ts';

/** The same rule for every parametric module kind. */
export function everyParametric(rule: Rule): RuleTable {
  return {
    Linear: rule,
    Conv1d: rule, Conv2d: rule, Conv3d: rule,
    ConvTranspose1d: rule, ConvTranspose2d: rule, ConvTranspose3d: rule,
    BatchNorm1d: rule, BatchNorm2d: rule, BatchNorm3d: rule,
  } satisfies Record<ParametricKind, Rule>;
}

/** An explicit "no": the quantity is not defined for this module, with the reason. */
export function unsupported(quantity: string, kind: ParametricKind, why: string): Rule {
  return () => {
    throw new UnsupportedModuleError(quantity, kind, why);
  };
}
