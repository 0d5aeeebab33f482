/**
 * The nodes of a model in topological order, whatever its form: a sequential spec is a chain
 * (layer i reads layer i−1; parameters "i.weight"), a graph spec names its nodes and their inputs
 * (parameters "<node>.weight"). Inputs index into the activations: −1 is the network input,
 * k ≥ 0 the output of node k.
 */
import { ModelSpecError } from '../errors/index.ts';
import { isGraphSpec, type LayerSpec, type ModelSpec } from './spec.ts';

export type NodeSpec =
  | { name: string; kind: 'layer'; layer: LayerSpec; inputs: number[]; where: string }
  | { name: string; kind: 'merge'; op: 'Add' | 'Concat'; dim: number; inputs: number[]; where: string };

export function specNodes(spec: ModelSpec): NodeSpec[] {
  if (!isGraphSpec(spec)) {
    return spec.layers.map((layer, i) => ({ name: String(i), kind: 'layer', layer, inputs: [i - 1], where: `layers[${i}] (${layer.type})` }));
  }
  const byName = new Map(spec.graph.nodes.map((n, i) => [n.name, i]));
  if (byName.size !== spec.graph.nodes.length) throw new ModelSpecError('graph: node names must be unique');
  if (!byName.has(spec.graph.output)) throw new ModelSpecError(`graph.output '${spec.graph.output}' is not a node`);
  // Depth-first topological order from the output; unreachable nodes are an error (unused parameters).
  const order: number[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number, from: string) => {
    if (state.get(i) === 'done') return;
    if (state.get(i) === 'visiting') throw new ModelSpecError(`graph: cycle through node '${spec.graph.nodes[i].name}'`);
    state.set(i, 'visiting');
    for (const input of spec.graph.nodes[i].inputs) {
      if (input === 'input') continue;
      const j = byName.get(input);
      if (j === undefined) throw new ModelSpecError(`graph: node '${spec.graph.nodes[i].name}' reads unknown input '${input}' (from ${from})`);
      visit(j, spec.graph.nodes[i].name);
    }
    state.set(i, 'done');
    order.push(i);
  };
  visit(byName.get(spec.graph.output)!, 'output');
  const unused = spec.graph.nodes.filter((_, i) => !state.has(i)).map((n) => n.name);
  if (unused.length) throw new ModelSpecError(`graph: nodes not connected to the output: ${unused.join(', ')}`);
  const position = new Map(order.map((i, k) => [i, k]));
  return order.map((i) => {
    const n = spec.graph.nodes[i];
    const inputs = n.inputs.map((name) => (name === 'input' ? -1 : position.get(byName.get(name)!)!));
    if ('layer' in n) return { name: n.name, kind: 'layer', layer: n.layer, inputs, where: `graph node '${n.name}' (${n.layer.type})` };
    return { name: n.name, kind: 'merge', op: n.op, dim: 'dim' in n ? n.dim : 1, inputs, where: `graph node '${n.name}' (${n.op})` };
  });
}
