/**
 * Shape inference over a spec's nodes, in topological order: each node's input and output shapes
 * and, for layers, its resolved setup (config, parameter and buffer shapes). Pure arithmetic on
 * the spec — no weights, no tensors — so sizes can be known (size-estimate.ts) and shapes checked
 * before anything is read or allocated.
 */
import { mathOf } from '../core/derivatives/index.ts';
import { mergeOutShape } from '../core/derivatives/merge.ts';
import type { LayerSetup } from '../core/derivatives/types.ts';
import { specNodes, type NodeSpec } from './graph.ts';
import type { ModelSpec } from './spec.ts';

export interface NodeShapes {
  node: NodeSpec;
  /** Position in topological order. */
  index: number;
  inShapes: number[][];
  outShape: number[];
  /** Layers only. */
  setup?: LayerSetup<unknown>;
}

export function inferShapes(spec: ModelSpec): NodeShapes[] {
  const out: NodeShapes[] = [];
  const shapeOf = (i: number) => (i < 0 ? spec.input_shape : out[i].outShape);
  specNodes(spec).forEach((node, index) => {
    const inShapes = node.inputs.map(shapeOf);
    if (node.kind === 'layer') {
      const setup = mathOf(node.layer.type).setup(node.layer as never, inShapes[0], node.where);
      out.push({ node, index, inShapes, outShape: setup.outShape, setup });
    } else {
      out.push({ node, index, inShapes, outShape: mergeOutShape({ op: node.op, dim: node.dim }, inShapes, node.where) });
    }
  });
  return out;
}
