/**
 * The engine's only way to learn what a module can do: it asks the module's record (the fields of
 * ModuleMath), and a capability the record does not state is a typed UnsupportedModuleError naming
 * the module and the quantity that needed it — never a default. `quantity` is what the user asked
 * for (e.g. 'DiagHessian'), or the internal pass that needs the capability when no single quantity does.
 */
import { UnsupportedModuleError } from '../errors/index.ts';
import { mathOf } from './derivatives/index.ts';
import type { InputHessian, JacobianStructure, Kronecker, Layer, MixedSecondDerivative, ModuleMath } from './derivatives/types.ts';
import type { ModuleKind } from '../vocabulary.ts';

type AnyMath = ModuleMath<ModuleKind, unknown>;
type KroneckerFactors<C> = Exclude<Kronecker<C>, { refused: string }>;

/** The capabilities a record may state (the optional fields of ModuleMath). */
export type Capability = 'inputHessian' | 'jacobianStructure' | 'kronecker' | 'jvp' | 'paramJvp' | 'mixed';

const WHAT: Record<Capability, string> = {
  inputHessian: 'its second derivative w.r.t. the input (inputHessian)',
  jacobianStructure: 'how its Jacobian depends on the sample (jacobianStructure)',
  kronecker: 'its Kronecker factors (kronecker)',
  jvp: 'its forward-mode input Jacobian (jvp)',
  paramJvp: 'its forward-mode parameter Jacobian (paramJvp)',
  mixed: 'its mixed second derivative w.r.t. input and parameters (mixed)',
};

/** Why a layer cannot give `capability`, or null when it can. Refusals with a reason are passed on. */
export function capabilityGap(layer: Layer, capability: Capability, math: AnyMath = mathOf(layer.kind)): string | null {
  const stated = math[capability];
  if (stated === undefined) return `the ${layer.kind} record does not state ${WHAT[capability]}`;
  if (capability === 'kronecker') {
    const k = math.kronecker!(layer);
    if ('refused' in k) return k.refused;
  }
  return null;
}

function require(layer: Layer, capability: Capability, quantity: string): AnyMath {
  const math = mathOf(layer.kind);
  const gap = capabilityGap(layer, capability, math);
  if (gap) throw new UnsupportedModuleError(quantity, `${layer.kind} (layer '${layer.name}')`, gap);
  return math;
}

export const inputHessianOf = (layer: Layer, quantity: string): InputHessian<unknown> => require(layer, 'inputHessian', quantity).inputHessian!;

export const jacobianStructureOf = (layer: Layer, quantity: string): JacobianStructure<unknown> => require(layer, 'jacobianStructure', quantity).jacobianStructure!(layer);

export const kroneckerOf = (layer: Layer, quantity: string): KroneckerFactors<unknown> => require(layer, 'kronecker', quantity).kronecker!(layer) as KroneckerFactors<unknown>;

export const jvpOf = (layer: Layer, quantity: string): NonNullable<AnyMath['jvp']> => require(layer, 'jvp', quantity).jvp!;

export const paramJvpOf = (layer: Layer, quantity: string): NonNullable<AnyMath['paramJvp']> => require(layer, 'paramJvp', quantity).paramJvp!;

export const mixedOf = (layer: Layer, quantity: string): MixedSecondDerivative<unknown> => require(layer, 'mixed', quantity).mixed!;
