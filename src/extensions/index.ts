/**
 * The quantities backpack-ts computes, one record each (src/extensions/<name>/index.ts: its rule,
 * what it backpropagates, what it needs of the modules, how it finalises and combines, its output
 * size), in one table: a new quantity is one file and one line here.
 */
import { UnknownExtensionError } from '../errors/index.ts';
import { EXTENSION_NAMES, type ExtensionName } from '../vocabulary.ts';
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
import { sumGradSquared } from './sum-grad-squared/index.ts';
import type { Quantity } from './types.ts';
import { variance } from './variance/index.ts';

/** Keyed by name (test/core/quantities.test.ts checks every record's name and savefield against its key). */
export const QUANTITIES: Record<ExtensionName, Quantity> = {
  BatchGrad: batchGrad,
  BatchL2Grad: batchL2Grad,
  SumGradSquared: sumGradSquared,
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
