/**
 * A module as a person reads it, as torch prints it in short: "Linear(20→16)",
 * "Conv2d(3→16, 3×3)", "BatchNorm1d(16)", else its type. Reports label layers with it
 * ("0 · Linear(20→16)").
 */
import { specNodes } from './graph.ts';
import type { LayerSpec, ModelSpec } from './spec.ts';

const size = (k: unknown) => (Array.isArray(k) ? k.join('×') : typeof k === 'number' ? String(k) : String(k ?? ''));

export function describeLayer(layer: LayerSpec): string {
  const a = layer as unknown as Record<string, unknown>;
  if ('in_features' in a) return `${layer.type}(${a.in_features}→${a.out_features})`;
  if ('in_channels' in a) {
    const k = a.kernel_size;
    const kernel = typeof k === 'number' && layer.type.endsWith('2d') ? `${k}×${k}` : typeof k === 'number' && layer.type.endsWith('3d') ? `${k}×${k}×${k}` : size(k);
    return `${layer.type}(${a.in_channels}→${a.out_channels}, ${kernel})`;
  }
  if ('num_features' in a) return `${layer.type}(${a.num_features})`;
  return layer.type;
}

/** Each layer node's name ("0", "block1") with its description; merge nodes are left out. */
export function describeModules(spec: ModelSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const node of specNodes(spec)) if (node.kind === 'layer') out[node.name] = describeLayer(node.layer);
  return out;
}
