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
import type { Network } from '../nn/network.ts';
import type { ExtensionName, ModuleKind } from '../vocabulary.ts';
import { QUANTITIES } from './index.ts';

export interface Unsupported {
  /** The layer's name (the prefix of its parameters, e.g. "3"). */
  layer: string;
  module: ModuleKind;
  quantity: ExtensionName;
  reason: string;
}

/**
 * For every node, a layer after it (on some path to the output) whose record lacks `capability`,
 * described; null where none does. One backward sweep: consumers come later in topological order.
 */
function blockedAfter(net: Network, capability: Capability): (string | null)[] {
  const blocked: (string | null)[] = net.nodes.map(() => null);
  for (let k = net.nodes.length - 1; k >= 0; k--) {
    const node = net.nodes[k];
    const layer = node.kind === 'layer' ? node.layer : null;
    const gap = layer ? capabilityGap(layer, capability) : null;
    const here = layer && gap ? `its backward pass crosses ${layer.kind} (layer '${layer.name}'): ${gap}` : blocked[k];
    if (!here) continue;
    for (const i of node.inputs) if (i >= 0 && !blocked[i]) blocked[i] = here;
  }
  return blocked;
}

/** Every (parametric layer, quantity) pair the records cannot give, with the reason, in network order. */
export function unsupportedPairs(net: Network, quantities: readonly ExtensionName[]): Unsupported[] {
  const out: Unsupported[] = [];
  const afterCache = new Map<Capability, (string | null)[]>();
  const after = (c: Capability) => afterCache.get(c) ?? afterCache.set(c, blockedAfter(net, c)).get(c)!;
  net.nodes.forEach((node, j) => {
    if (node.kind !== 'layer' || Object.keys(node.layer.params).length === 0) return;
    const layer: Layer = node.layer;
    for (const quantity of quantities) {
      const needs = QUANTITIES[quantity].needs ?? {};
      const reason = needs.own?.map((c) => capabilityGap(layer, c)).find((r) => r) ?? needs.after?.map((c) => after(c)[j]).find((r) => r);
      if (reason) out.push({ layer: layer.name, module: layer.kind, quantity, reason });
    }
  });
  return out;
}

/** The default: the first unsupported pair is an error, before any shard runs. */
export function requireSupported(net: Network, quantities: readonly ExtensionName[]): void {
  const [first] = unsupportedPairs(net, quantities);
  if (first) throw new UnsupportedModuleError(first.quantity, `${first.module} (layer '${first.layer}')`, first.reason);
}

/** Key of a skipped pair, as jobs carry them to workers. */
export const skipKey = (layer: string, quantity: ExtensionName): string => `${layer}:${quantity}`;
