/**
 * The quantities backpack-ts computes: each one's rule (how a shard computes its partials at
 * every parametric module) and what it needs backpropagated. Finalisers live in reduce/finalize.ts.
 */
import { UnknownExtensionError } from '../errors/index.ts';
import { EXTENSION_NAMES, type Backprop, type ExtensionName } from '../vocabulary.ts';
import { batchDiagGGNExact } from './batch-diag-ggn-exact/index.ts';
import { batchDiagGGNMC } from './batch-diag-ggn-mc/index.ts';
import { batchDiagHessian } from './batch-diag-hessian/index.ts';
import { batchGrad } from './batch-grad/index.ts';
import { batchL2Grad } from './batch-l2-grad/index.ts';
import { diagGGNExact } from './diag-ggn-exact/index.ts';
import { diagGGNMC } from './diag-ggn-mc/index.ts';
import { diagHessian } from './diag-hessian/index.ts';
import { ggnmp } from './ggnmp/index.ts';
import { gradientNoiseScale } from './gradient-noise-scale/index.ts';
import { hmp } from './hmp/index.ts';
import { kfac } from './kfac/index.ts';
import { kflr } from './kflr/index.ts';
import { kfra } from './kfra/index.ts';
import { sqrtGGNExact } from './sqrt-ggn-exact/index.ts';
import { sqrtGGNMC } from './sqrt-ggn-mc/index.ts';
import { sumGradSquaredRules } from './sum-grad-squared/index.ts';
import type { Rule } from './types.ts';
import { variance } from './variance/index.ts';

/** One rule per quantity: what differs between modules is asked of their records (core/capabilities.ts). */
export const RULES: Record<ExtensionName, Rule> = {
  BatchGrad: batchGrad,
  BatchL2Grad: batchL2Grad,
  SumGradSquared: sumGradSquaredRules,
  Variance: variance,
  DiagGGNExact: diagGGNExact,
  DiagGGNMC: diagGGNMC,
  BatchDiagGGNExact: batchDiagGGNExact,
  BatchDiagGGNMC: batchDiagGGNMC,
  SqrtGGNExact: sqrtGGNExact,
  SqrtGGNMC: sqrtGGNMC,
  DiagHessian: diagHessian,
  BatchDiagHessian: batchDiagHessian,
  KFAC: kfac,
  KFLR: kflr,
  KFRA: kfra,
  GGNMP: ggnmp,
  HMP: hmp,
  GradientNoiseScale: gradientNoiseScale,
};

/** What each quantity needs backpropagated besides the gradient. */
export const BACKPROPS: Record<ExtensionName, Backprop[]> = {
  BatchGrad: [], BatchL2Grad: [], SumGradSquared: [], Variance: [],
  DiagGGNExact: ['sqrtExact'], BatchDiagGGNExact: ['sqrtExact'], SqrtGGNExact: ['sqrtExact'], KFLR: ['sqrtExact'], GGNMP: ['sqrtExact'],
  DiagGGNMC: ['sqrtMC'], BatchDiagGGNMC: ['sqrtMC'], SqrtGGNMC: ['sqrtMC'], KFAC: ['sqrtMC'],
  DiagHessian: ['hessian'], BatchDiagHessian: ['hessian'], HMP: ['hessian'],
  KFRA: ['kfra'],
  GradientNoiseScale: [],
};

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
