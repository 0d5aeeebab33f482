/**
 * The quantities backpack-ts computes, each with its rule table (how a shard computes its
 * partials at every parametric module) and its finaliser (how merged partials become the result).
 */
import { UnknownExtensionError, UnsupportedModuleError } from '../errors/index.ts';
import { EXTENSION_NAMES, type ExtensionName, type ModuleKind } from '../vocabulary.ts';
import { batchGrad } from './batch-grad/index.ts';
import { batchL2Grad } from './batch-l2-grad/index.ts';
import { sumGradSquaredRules } from './sum-grad-squared/index.ts';
import type { FirstOrderRule, RuleTable } from './types.ts';
import { variance } from './variance/index.ts';

export const RULES: Record<ExtensionName, RuleTable> = {
  BatchGrad: batchGrad,
  BatchL2Grad: batchL2Grad,
  SumGradSquared: sumGradSquaredRules,
  Variance: variance,
};

export function ruleFor(quantity: ExtensionName, kind: ModuleKind): FirstOrderRule {
  const rule = (RULES[quantity] as Partial<Record<ModuleKind, FirstOrderRule>>)[kind];
  if (!rule) throw new UnsupportedModuleError(quantity, kind);
  return rule;
}

/** Parses "BatchGrad,Variance" (case-sensitive, BackPACK's names); unknown names list the valid ones. */
export function parseExtensionList(list: string | readonly string[]): ExtensionName[] {
  const names = (typeof list === 'string' ? list.split(',') : [...list]).map((s) => s.trim()).filter(Boolean);
  const out: ExtensionName[] = [];
  for (const name of names) {
    if (!(EXTENSION_NAMES as string[]).includes(name)) throw new UnknownExtensionError(name, EXTENSION_NAMES);
    if (!out.includes(name as ExtensionName)) out.push(name as ExtensionName);
  }
  return out;
}
