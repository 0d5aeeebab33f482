/**
 * Which quantities each parametric layer of a network supports, decided from the module records
 * before anything is computed. A quantity needs capabilities of the layer itself (KFAC: its
 * Kronecker factors) and of every layer its backward pass crosses between that layer and the loss
 * (DiagHessian: each one's input Hessian; KFRA: each one's Jacobian structure). By default the
 * first gap is a typed UnsupportedModuleError before any shard runs; with --skip-unsupported the
 * gaps are listed and those (layer, quantity) pairs are left out of the results.
 */
import { capabilityGap, type Capability } from '../core/capabilities.ts';
import type { Layer } from '../core/derivatives/types.ts';
import { UnsupportedModuleError } from '../errors/index.ts';
import { inferShapes } from '../nn/shapes.ts';
import type { ModelSpec } from '../nn/spec.ts';
import type { ExtensionName, ModuleKind } from '../vocabulary.ts';
import { QUANTITIES } from './index.ts';

export interface Unsupported {
  /** The layer's name (the prefix of its parameters, e.g. "3"). */
  layer: string;
  module: ModuleKind;
  quantity: ExtensionName;
  reason: string;
}

/** A node as support checks see it: its layer's structure (no tensors) and its inputs. */
interface StructuralNode {
  layer: Layer | null;
  /** Whether the layer has trainable parameters (only those get quantities). */
  parametric: boolean;
  inputs: number[];
}

/**
 * The network's structure from its spec alone (shape arithmetic, no weights): what a module's record
 * needs to say whether it can give a capability is its kind and resolved config, so the check runs
 * wherever a spec is known — a queue worker checking a job record, a sweep before its first checkpoint.
 */
function structureOf(spec: ModelSpec): StructuralNode[] {
  return inferShapes(spec).map(({ node, index, inShapes, outShape, setup }) => {
    if (node.kind !== 'layer' || !setup) return { layer: null, parametric: false, inputs: node.inputs };
    const layer: Layer = { index, name: node.name, kind: node.layer.type, spec: node.layer, inShape: inShapes[0], outShape, cfg: setup.cfg, params: {}, buffers: {}, derived: new Map() };
    return { layer, parametric: Object.keys(setup.params).length > 0, inputs: node.inputs };
  });
}

/**
 * For every node, a layer after it (on some path to the output) whose record lacks `capability`,
 * described; null where none does. One backward sweep: consumers come later in topological order.
 */
function blockedAfter(nodes: StructuralNode[], capability: Capability): (string | null)[] {
  const blocked: (string | null)[] = nodes.map(() => null);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const { layer, inputs } = nodes[k];
    const gap = layer ? capabilityGap(layer, capability) : null;
    const here = layer && gap ? `its backward pass crosses ${layer.kind} (layer '${layer.name}'): ${gap}` : blocked[k];
    if (!here) continue;
    for (const i of inputs) if (i >= 0 && !blocked[i]) blocked[i] = here;
  }
  return blocked;
}

/** Every (parametric layer, quantity) pair the records cannot give, with the reason, in network order. */
export function unsupportedPairs(spec: ModelSpec, quantities: readonly ExtensionName[]): Unsupported[] {
  const nodes = structureOf(spec);
  const out: Unsupported[] = [];
  const afterCache = new Map<Capability, (string | null)[]>();
  const after = (c: Capability) => afterCache.get(c) ?? afterCache.set(c, blockedAfter(nodes, c)).get(c)!;
  nodes.forEach(({ layer, parametric }, j) => {
    if (!layer || !parametric) return;
    for (const quantity of quantities) {
      const needs = QUANTITIES[quantity].needs ?? {};
      const reason = needs.own?.map((c) => capabilityGap(layer, c)).find((r) => r) ?? needs.after?.map((c) => after(c)[j]).find((r) => r);
      if (reason) out.push({ layer: layer.name, module: layer.kind, quantity, reason });
    }
  });
  return out;
}

/** Names of the parametric layers of a spec, in network order (what a skipped pair may name). */
export function parametricLayers(spec: ModelSpec): string[] {
  return structureOf(spec).filter((n) => n.layer && n.parametric).map((n) => n.layer!.name);
}

/** The default: the first unsupported pair is an error, before any shard runs. */
export function requireSupported(spec: ModelSpec, quantities: readonly ExtensionName[]): void {
  const [first] = unsupportedPairs(spec, quantities);
  if (first) throw new UnsupportedModuleError(first.quantity, `${first.module} (layer '${first.layer}')`, first.reason);
}

/** Key of a skipped pair, as jobs carry them to workers. */
export const skipKey = (layer: string, quantity: ExtensionName): string => `${layer}:${quantity}`;

/** The keys of skipped pairs (what shards and finalisers are told to leave out). */
export const skipKeys = (pairs: readonly Unsupported[]): string[] => pairs.map((s) => skipKey(s.layer, s.quantity));

/**
 * The pairs a job leaves out: none (after refusing the first gap with a typed
 * UnsupportedModuleError), or all of them with `skipUnsupported`.
 */
export function skippedPairs(spec: ModelSpec, quantities: readonly ExtensionName[], skipUnsupported = false): Unsupported[] {
  if (!skipUnsupported) {
    requireSupported(spec, quantities);
    return [];
  }
  return unsupportedPairs(spec, quantities);
}

/** One line per skipped pair, as `run`, `submit` and `sweep` print them on stderr. */
export const describeSkipped = (s: Unsupported): string => `skipped ${s.quantity} for layer '${s.layer}' (${s.module}): ${s.reason}`;
