/**
 * Builds a network from a model spec and a weights map: infers every node's shapes (so a shape
 * mismatch is reported at load time, naming both shapes), resolves configs and binds parameters.
 * Sequential specs are chains; graph specs add merge nodes (Add, Concat).
 */
import { tf } from '../core/tf.ts';
import type { Layer } from '../core/derivatives/types.ts';
import type { MergeSpec } from '../core/derivatives/merge.ts';
import { ModelSpecError, WeightsError } from '../errors/index.ts';
import { finiteFloat32 } from '../io/float32.ts';
import { numel, type HostTensor } from '../io/host-tensor.ts';
import type { ParamName } from '../vocabulary.ts';
import { inferShapes } from './shapes.ts';
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

/** Shapes of every parameter and buffer the spec needs, without any weights (for generators). */
export function describeParameters(spec: ModelSpec): { params: Record<string, number[]>; buffers: Record<string, number[]> } {
  const params: Record<string, number[]> = {};
  const buffers: Record<string, number[]> = {};
  for (const { node, setup } of inferShapes(spec)) {
    if (!setup) continue;
    for (const [name, shape] of Object.entries(setup.params)) params[`${node.name}.${name}`] = shape!;
    for (const [name, shape] of Object.entries(setup.buffers ?? {})) buffers[`${node.name}.${name}`] = shape;
  }
  return { params, buffers };
}

/** A parameter or buffer from the weights file, checked (shape, dtype, finite in float32, bounds) and kept as float32. */
function bindTensor(weights: Map<string, HostTensor>, key: string, shape: number[], what: string, min?: number): tf.Tensor {
  const t = weights.get(key);
  if (!t) {
    const known = [...weights.keys()].slice(0, 12).join(', ');
    throw new WeightsError(`${what} '${key}' is missing from the weights file (it has: ${known}${weights.size > 12 ? ', …' : ''})`);
  }
  if (t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
    throw new WeightsError(`${what} '${key}' has shape [${t.shape.join(', ')}], the model spec needs [${shape.join(', ')}] (PyTorch layout)`);
  }
  if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new WeightsError(`${what} '${key}' has dtype ${t.dtype}; expected F32 or F64`);
  const values = finiteFloat32(t, (j, value) => `${what} '${key}' holds a non-finite value (${value}) at flat index ${j}`);
  if (min !== undefined) {
    const bad = values.findIndex((v) => v < min);
    if (bad >= 0) throw new WeightsError(`${what} '${key}' holds ${values[bad]} at flat index ${bad}; it must be at least ${min}`);
  }
  return tf.keep(tf.tensor(values, shape, 'float32'));
}

export function buildNetwork(spec: ModelSpec, weights: Map<string, HostTensor>): Network {
  // Every shape is checked before the first tensor is made, so a bad spec allocates nothing.
  const shapes = inferShapes(spec);
  const outputShape = shapes[shapes.length - 1].outShape;
  if (numel(outputShape) < 1) throw new ModelSpecError('the network produces an empty output');
  const nodes: NetNode[] = [];
  const layers: Layer[] = [];
  const paramNames: string[] = [];
  const paramShapes: Record<string, number[]> = {};
  try {
    for (const { node, index, inShapes, setup, outShape } of shapes) {
      if (node.kind === 'merge' || !setup) {
        const n = node as Extract<typeof node, { kind: 'merge' }>;
        nodes.push({ kind: 'merge', name: n.name, merge: { op: n.op, dim: n.dim }, inputs: n.inputs, inShapes, outShape });
        continue;
      }
      const layer: Layer = { index, name: node.name, kind: node.layer.type, spec: node.layer, inShape: inShapes[0], outShape, cfg: setup.cfg, params: {}, buffers: {}, derived: new Map() };
      // Pushed before binding, so a failed bind still frees what this layer already holds.
      layers.push(layer);
      for (const [name, shape] of Object.entries(setup.params) as [ParamName, number[]][]) {
        const key = `${node.name}.${name}`;
        layer.params[name] = bindTensor(weights, key, shape, 'parameter');
        paramNames.push(key);
        paramShapes[key] = shape;
      }
      for (const [name, shape] of Object.entries(setup.buffers ?? {})) {
        layer.buffers[name] = bindTensor(weights, `${node.name}.${name}`, shape, 'buffer', setup.bufferMin?.[name]);
      }
      nodes.push({ kind: 'layer', layer, inputs: node.inputs });
    }
  } catch (e) {
    disposeLayers(layers);
    throw e;
  }
  const sequential = nodes.every((n, i) => n.kind === 'layer' && n.inputs.length === 1 && n.inputs[0] === i - 1);
  return { spec, inputShape: spec.input_shape, outputShape, nodes, layers, sequential, loss: spec.loss, paramNames, paramShapes };
}

function disposeLayers(layers: Layer[]): void {
  for (const layer of layers) {
    for (const t of Object.values(layer.params)) t?.dispose();
    for (const t of Object.values(layer.buffers)) t.dispose();
    for (const t of layer.derived.values()) t.dispose();
    layer.derived.clear();
  }
}

/** Frees the network's parameter tensors. */
export function disposeNetwork(net: Network): void {
  disposeLayers(net.layers);
}
