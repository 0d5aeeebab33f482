/**
 * The nodes of a model in topological order, whatever its form: a sequential spec is a chain
 * (layer i reads layer i−1; parameters "i.weight"), a graph spec names its nodes and their inputs
 * (parameters "<node>.weight"). Inputs index into the activations: −1 is the network input,
 * k ≥ 0 the output of node k.
 */
import { ModelSpecError } from '../errors/index.ts';
import type { GraphSpec, LayerSpec, ModelSpec } from './spec.ts';

// Here rather than in spec.ts: that file loads zod, which a worker (given checked specs) never needs.
export const isGraphSpec = (s: ModelSpec): s is GraphSpec => 'graph' in s;

export type NodeSpec =
  | { name: string; kind: 'layer'; layer: LayerSpec; inputs: number[]; where: string }
  | { name: string; kind: 'merge'; op: 'Add' | 'Concat'; dim: number; inputs: number[]; where: string };

/**
 * Depth-first topological order of the nodes that feed `output`. NOTE: an explicit stack, not
 * recursion: a chain of tens of thousands of nodes would overflow the call stack.
 */
function topologicalOrder(inputsOf: (i: number) => number[], names: (i: number) => string, output: number): number[] {
  const order: number[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  // Each frame: a node and how many of its inputs have been pushed so far.
  const stack: { node: number; next: number }[] = [{ node: output, next: 0 }];
  state.set(output, 'visiting');
  while (stack.length) {
    const top = stack[stack.length - 1];
    const inputs = inputsOf(top.node);
    if (top.next === inputs.length) {
      stack.pop();
      state.set(top.node, 'done');
      order.push(top.node);
      continue;
    }
    const j = inputs[top.next++];
    if (j < 0 || state.get(j) === 'done') continue;
    if (state.get(j) === 'visiting') throw new ModelSpecError(`graph: cycle through node '${names(j)}'`);
    state.set(j, 'visiting');
    stack.push({ node: j, next: 0 });
  }
  return order;
}

export function specNodes(spec: ModelSpec): NodeSpec[] {
  if (!isGraphSpec(spec)) {
    return spec.layers.map((layer, i) => ({ name: String(i), kind: 'layer', layer, inputs: [i - 1], where: `layers[${i}] (${layer.type})` }));
  }
  const nodes = spec.graph.nodes;
  const byName = new Map(nodes.map((n, i) => [n.name, i]));
  if (byName.size !== nodes.length) {
    const seen = new Set<string>();
    const twice = nodes.find((n) => seen.size === seen.add(n.name).size)!.name;
    throw new ModelSpecError(`graph: node names must be unique ('${twice}' appears twice)`);
  }
  const output = byName.get(spec.graph.output);
  if (output === undefined) throw new ModelSpecError(`graph.output '${spec.graph.output}' is not a node`);
  // Resolve every input name first, so an unknown one is named whether or not it is reachable.
  const inputIndex = nodes.map((n) =>
    n.inputs.map((name) => {
      if (name === 'input') return -1;
      const j = byName.get(name);
      if (j === undefined) throw new ModelSpecError(`graph: node '${n.name}' reads unknown input '${name}'`);
      return j;
    }),
  );
  const order = topologicalOrder((i) => inputIndex[i], (i) => nodes[i].name, output);
  if (order.length !== nodes.length) {
    const reached = new Set(order);
    const unused = nodes.filter((_, i) => !reached.has(i)).map((n) => n.name);
    throw new ModelSpecError(`graph: nodes not connected to the output: ${unused.slice(0, 20).join(', ')}${unused.length > 20 ? `, … (${unused.length})` : ''}`);
  }
  const position = new Map(order.map((i, k) => [i, k]));
  return order.map((i) => {
    const n = nodes[i];
    const inputs = inputIndex[i].map((j) => (j < 0 ? -1 : position.get(j)!));
    if ('layer' in n) return { name: n.name, kind: 'layer', layer: n.layer, inputs, where: `graph node '${n.name}' (${n.layer.type})` };
    return { name: n.name, kind: 'merge', op: n.op, dim: 'dim' in n ? n.dim : 1, inputs, where: `graph node '${n.name}' (${n.op})` };
  });
}
