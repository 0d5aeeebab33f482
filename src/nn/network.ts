/**
 * Builds a network from a model spec and a weights map: infers every node's shapes (so a shape
 * mismatch is reported at load time, naming both shapes), resolves configs and binds parameters.
 * Sequential specs are chains; graph specs add merge nodes (Add, Concat).
 */
import { tf } from '../core/tf.ts';
import type { Layer } from '../core/derivatives/types.ts';
import { mathOf } from '../core/derivatives/index.ts';
import { mergeOutShape, type MergeSpec } from '../core/derivatives/merge.ts';
import { ModelSpecError, NonFiniteError, WeightsError } from '../errors/index.ts';
import { numel, toFloat64, type HostTensor } from '../io/host-tensor.ts';
import type { ParamName } from '../vocabulary.ts';
import { specNodes } from './graph.ts';
import type { LossSpec, ModelSpec } from './spec.ts';

/** A node of the built network; `inputs` index activations (−1: the network input, k: node k). */
export type NetNode =
  | { kind: 'layer'; layer: Layer; inputs: number[] }
  | { kind: 'merge'; name: string; merge: MergeSpec; inputs: number[]; inShapes: number[][]; outShape: number[] };

export interface Network {
  spec: ModelSpec;
  inputShape: number[];
  outputShape: number[];
  /** All nodes in topological order; the last one produces the network output. */
  nodes: NetNode[];
  /** The layer nodes' layers, in the same order. */
  layers: Layer[];
  /** True for a plain chain (every node reads the previous one): KFRA needs this. */
  sequential: boolean;
  loss: LossSpec;
  /** Trainable parameters in order: ["0.weight", "0.bias", …] or ["<node>.weight", …]. */
  paramNames: string[];
  paramShapes: Record<string, number[]>;
}

type Setup = ReturnType<ReturnType<typeof mathOf>['setup']>;

interface Visit {
  node: ReturnType<typeof specNodes>[number];
  index: number;
  inShapes: number[][];
  setup?: Setup;
  outShape: number[];
}

/** Shape inference over the nodes; calls `visit` for each in topological order. */
function walk(spec: ModelSpec, visit: (v: Visit) => void): number[] {
  const outShapes: number[][] = [];
  const shapeOf = (i: number) => (i < 0 ? spec.input_shape : outShapes[i]);
  specNodes(spec).forEach((node, index) => {
    const inShapes = node.inputs.map(shapeOf);
    if (node.kind === 'layer') {
      const setup = mathOf(node.layer.type).setup(node.layer as never, inShapes[0], node.where);
      outShapes.push(setup.outShape);
      visit({ node, index, inShapes, setup, outShape: setup.outShape });
    } else {
      const outShape = mergeOutShape({ op: node.op, dim: node.dim }, inShapes, node.where);
      outShapes.push(outShape);
      visit({ node, index, inShapes, outShape });
    }
  });
  return outShapes[outShapes.length - 1];
}

/** Shapes of every parameter and buffer the spec needs, without any weights (for generators). */
export function describeParameters(spec: ModelSpec): { params: Record<string, number[]>; buffers: Record<string, number[]> } {
  const params: Record<string, number[]> = {};
  const buffers: Record<string, number[]> = {};
  walk(spec, ({ node, setup }) => {
    if (!setup) return;
    for (const [name, shape] of Object.entries(setup.params)) params[`${node.name}.${name}`] = shape!;
    for (const [name, shape] of Object.entries(setup.buffers ?? {})) buffers[`${node.name}.${name}`] = shape;
  });
  return { params, buffers };
}

function bindTensor(weights: Map<string, HostTensor>, key: string, shape: number[], what: string): tf.Tensor {
  const t = weights.get(key);
  if (!t) {
    const known = [...weights.keys()].slice(0, 12).join(', ');
    throw new WeightsError(`${what} '${key}' is missing from the weights file (it has: ${known}${weights.size > 12 ? ', …' : ''})`);
  }
  if (t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
    throw new WeightsError(`${what} '${key}' has shape [${t.shape.join(', ')}], the model spec needs [${shape.join(', ')}] (PyTorch layout)`);
  }
  if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new WeightsError(`${what} '${key}' has dtype ${t.dtype}; expected F32 or F64`);
  const values = toFloat64(t);
  for (let j = 0; j < values.length; j++) {
    if (!Number.isFinite(values[j])) throw new NonFiniteError(`${what} '${key}' holds a non-finite value (${values[j]}) at flat index ${j}`);
  }
  return tf.keep(tf.tensor(new Float32Array(values), shape, 'float32'));
}

export function buildNetwork(spec: ModelSpec, weights: Map<string, HostTensor>): Network {
  const nodes: NetNode[] = [];
  const layers: Layer[] = [];
  const paramNames: string[] = [];
  const paramShapes: Record<string, number[]> = {};
  const outputShape = walk(spec, ({ node, index, inShapes, setup, outShape }) => {
    if (node.kind === 'merge' || !setup) {
      const n = node as Extract<typeof node, { kind: 'merge' }>;
      nodes.push({ kind: 'merge', name: n.name, merge: { op: n.op, dim: n.dim }, inputs: n.inputs, inShapes, outShape });
      return;
    }
    const params: Layer['params'] = {};
    for (const [name, shape] of Object.entries(setup.params) as [ParamName, number[]][]) {
      const key = `${node.name}.${name}`;
      params[name] = bindTensor(weights, key, shape, 'parameter');
      paramNames.push(key);
      paramShapes[key] = shape;
    }
    const buffers: Layer['buffers'] = {};
    for (const [name, shape] of Object.entries(setup.buffers ?? {})) buffers[name] = bindTensor(weights, `${node.name}.${name}`, shape, 'buffer');
    const layer: Layer = { index, name: node.name, kind: node.layer.type, spec: node.layer, inShape: inShapes[0], outShape, cfg: setup.cfg, params, buffers, derived: new Map() };
    layers.push(layer);
    nodes.push({ kind: 'layer', layer, inputs: node.inputs });
  });
  if (numel(outputShape) < 1) throw new ModelSpecError('the network produces an empty output');
  const sequential = nodes.every((n, i) => n.kind === 'layer' && n.inputs.length === 1 && n.inputs[0] === i - 1);
  return { spec, inputShape: spec.input_shape, outputShape, nodes, layers, sequential, loss: spec.loss, paramNames, paramShapes };
}

/** Frees the network's parameter tensors. */
export function disposeNetwork(net: Network): void {
  for (const layer of net.layers) {
    for (const t of Object.values(layer.params)) t?.dispose();
    for (const t of Object.values(layer.buffers)) t.dispose();
    for (const t of layer.derived.values()) t.dispose();
    layer.derived.clear();
  }
}
