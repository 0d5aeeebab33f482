/**
 * Builds a network from a model spec and a weights map: infers every layer's shapes (so a shape
 * mismatch is reported at load time, naming both shapes), resolves configs and binds parameters.
 */
import { tf } from '../core/tf.ts';
import type { Layer } from '../core/derivatives/types.ts';
import { mathOf } from '../core/derivatives/index.ts';
import { ModelSpecError, NonFiniteError, WeightsError } from '../errors/index.ts';
import { numel, toFloat64, type HostTensor } from '../io/host-tensor.ts';
import type { ParamName } from '../vocabulary.ts';
import type { LossSpec, ModelSpec } from './spec.ts';

export interface Network {
  spec: ModelSpec;
  inputShape: number[];
  outputShape: number[];
  layers: Layer[];
  loss: LossSpec;
  /** Trainable parameters in nn.Sequential order: ["0.weight", "0.bias", …]. */
  paramNames: string[];
  paramShapes: Record<string, number[]>;
}

/** Shapes of every parameter and buffer the spec needs, without any weights (for generators). */
export function describeParameters(spec: ModelSpec): { params: Record<string, number[]>; buffers: Record<string, number[]> } {
  const params: Record<string, number[]> = {};
  const buffers: Record<string, number[]> = {};
  walk(spec, (i, setup) => {
    for (const [name, shape] of Object.entries(setup.params)) params[`${i}.${name}`] = shape!;
    for (const [name, shape] of Object.entries(setup.buffers ?? {})) buffers[`${i}.${name}`] = shape;
  });
  return { params, buffers };
}

type Setup = ReturnType<ReturnType<typeof mathOf>['setup']>;

function walk(spec: ModelSpec, visit: (index: number, setup: Setup, inShape: number[]) => void): number[] {
  let shape = spec.input_shape;
  spec.layers.forEach((layerSpec, i) => {
    const where = `layers[${i}] (${layerSpec.type})`;
    const setup = mathOf(layerSpec.type).setup(layerSpec as never, shape, where);
    visit(i, setup, shape);
    shape = setup.outShape;
  });
  return shape;
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
  const layers: Layer[] = [];
  const paramNames: string[] = [];
  const paramShapes: Record<string, number[]> = {};
  const outputShape = walk(spec, (i, setup, inShape) => {
    const params: Layer['params'] = {};
    for (const [name, shape] of Object.entries(setup.params) as [ParamName, number[]][]) {
      const key = `${i}.${name}`;
      params[name] = bindTensor(weights, key, shape, 'parameter');
      paramNames.push(key);
      paramShapes[key] = shape;
    }
    const buffers: Layer['buffers'] = {};
    for (const [name, shape] of Object.entries(setup.buffers ?? {})) buffers[name] = bindTensor(weights, `${i}.${name}`, shape, 'buffer');
    layers.push({ index: i, kind: spec.layers[i].type, spec: spec.layers[i], inShape, outShape: setup.outShape, cfg: setup.cfg, params, buffers, derived: new Map() });
  });
  if (numel(outputShape) < 1) throw new ModelSpecError('the network produces an empty output');
  return { spec, inputShape: spec.input_shape, outputShape, layers, loss: spec.loss, paramNames, paramShapes };
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
