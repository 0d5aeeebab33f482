/**
 * Import of a TensorFlow.js Layers model (model.json with `modelTopology` + `weightsManifest`, and
 * its binary weight shards) into our model spec and PyTorch-layout weights.
 *
 * NOTE: one file over 400 lines on purpose (the import is one unit: a reader, a topology walk and
 * a table of layer converters sharing one layout state); its sections are marked below.
 *
 * Layouts. tfjs images are channels-last ([H, W, C] per sample), ours channels-first ([C, H, W]).
 * The walk tracks, for every intermediate tensor, how the tfjs tensor is arranged relative to ours
 * (`axes`: tfjs = transpose(ours, axes), numpy's convention) and, for feature vectors, which tfjs
 * feature each of ours is (`perm`). A Flatten of channels-last data orders features (h, w, c),
 * ours (c, h, w): the next Dense (or BatchNormalization) gets its rows permuted, so the imported
 * network computes exactly what tfjs computes. Dense kernels [in, out] become Linear weights
 * [out, in]; Conv2D kernels [kh, kw, in, out] become [out, in, kh, kw].
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ModelSpecError, WeightsError } from '../../errors/index.ts';
import { numel, type HostTensor } from '../../io/host-tensor.ts';
import { LOSS_KINDS, REDUCTIONS, type LossKind, type Reduction } from '../../vocabulary.ts';
import { describeParameters } from '../network.ts';
import { parseModelSpec } from '../parse-spec.ts';
import type { ModelSpec } from '../spec.ts';

export interface TfjsImportOptions {
  /** A tfjs model carries no loss of ours; default CrossEntropyLoss with mean reduction. */
  loss?: { type?: LossKind; reduction?: Reduction };
}

export interface ImportedModel {
  spec: ModelSpec;
  /** Parameters and BatchNorm buffers named like an nn.Sequential ("0.weight"), float32. */
  weights: Map<string, HostTensor>;
  /** What the import changed or could not carry over (a dropped softmax, inserted padding, …). */
  notes: string[];
}

/** Layer classes the import understands (tfjs and Keras class names). */
export const SUPPORTED_TFJS_LAYERS = [
  'InputLayer', 'Dense', 'Conv2D', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D',
  'ZeroPadding2D', 'Flatten', 'Dropout', 'Activation', 'ReLU', 'LeakyReLU', 'ELU', 'Softmax',
  'BatchNormalization',
] as const;

/** Activation names (a layer's `activation` attribute or an Activation layer). */
const ACTIVATIONS: Record<string, Record<string, unknown> | null> = {
  linear: null, relu: { type: 'ReLU' }, sigmoid: { type: 'Sigmoid' }, tanh: { type: 'Tanh' },
  elu: { type: 'ELU', alpha: 1 }, selu: { type: 'SELU' },
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads model.json and its shards, converts, and returns our spec and weights. */
export async function importTfjsLayersModel(modelJsonPath: string, opts: TfjsImportOptions = {}): Promise<ImportedModel> {
  const { topology, weights } = await readTfjsArtifacts(modelJsonPath);
  return convertTfjsLayers(topology, weights, opts, modelJsonPath);
}

// ---------------------------------------------------------------------------------------------
// Reading: model.json and the weight shards named by its manifest.
// ---------------------------------------------------------------------------------------------

export interface TfjsArtifacts {
  topology: Json;
  /** Weights by their manifest names (":0" suffixes stripped), in tfjs layouts. */
  weights: Map<string, HostTensor>;
}

export async function readTfjsArtifacts(modelJsonPath: string): Promise<TfjsArtifacts> {
  let text: string;
  try {
    text = await readFile(modelJsonPath, 'utf8');
  } catch {
    throw new ModelSpecError(`${modelJsonPath}: file not found or unreadable`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelSpecError(`${modelJsonPath}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw new ModelSpecError(`${modelJsonPath}: expected a JSON object`);
  if (json.format === 'graph-model') {
    throw new ModelSpecError(`${modelJsonPath}: a tfjs graph model (format 'graph-model') has no layer topology; only Layers models ('layers-model') can be imported`);
  }
  if (!isObject(json.modelTopology)) throw new ModelSpecError(`${modelJsonPath}: no 'modelTopology' object; is this a tfjs Layers model.json?`);
  if (!Array.isArray(json.weightsManifest)) throw new ModelSpecError(`${modelJsonPath}: no 'weightsManifest' array`);
  const weights = await readWeightGroups(json.weightsManifest, dirname(modelJsonPath), modelJsonPath);
  return { topology: json.modelTopology, weights };
}

interface WeightEntry { name: string; shape: number[] }

function checkWeightEntry(w: unknown, where: string): WeightEntry {
  if (!isObject(w) || typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ModelSpecError(`${where}: expected {name, shape, dtype}`);
  }
  const q = w.quantization;
  if (isObject(q)) throw new WeightsError(`${where} ('${w.name}'): quantized weights (${String(q.dtype)}) are not supported; export the model without quantization (float32)`);
  if (w.dtype !== 'float32') throw new WeightsError(`${where} ('${w.name}'): dtype ${JSON.stringify(w.dtype)}; only float32 weights can be imported`);
  return { name: w.name.replace(/:0$/, ''), shape: w.shape as number[] };
}

async function readShard(path: string, label: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new WeightsError(`${label}: weight shard ${path} ${code === 'ENOENT' ? 'not found' : `cannot be read (${code})`}`);
  }
}

/** A group's weights lie back to back across the concatenation of its shards, little-endian. */
async function readWeightGroups(manifest: unknown[], dir: string, label: string): Promise<Map<string, HostTensor>> {
  const weights = new Map<string, HostTensor>();
  for (const [g, group] of manifest.entries()) {
    const where = `${label}: weightsManifest[${g}]`;
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights) || !group.paths.every((p) => typeof p === 'string')) {
      throw new ModelSpecError(`${where}: expected {paths: [...], weights: [...]}`);
    }
    // Entries are checked before any file is read, so a quantized model fails for that reason.
    const entries = group.weights.map((w, j) => checkWeightEntry(w, `${where}.weights[${j}]`));
    const shards = await Promise.all((group.paths as string[]).map((p) => readShard(resolve(dir, p), label)));
    const bytes = new Uint8Array(shards.reduce((a, s) => a + s.length, 0));
    shards.reduce((at, s) => (bytes.set(s, at), at + s.length), 0);
    const view = new DataView(bytes.buffer);
    let offset = 0;
    for (const { name, shape } of entries) {
      const n = numel(shape);
      if (offset + 4 * n > bytes.length) {
        throw new WeightsError(`${where}: weight '${name}' needs bytes [${offset}, ${offset + 4 * n}) but the shards (${group.paths.join(', ')}) hold ${bytes.length}`);
      }
      if (weights.has(name)) throw new WeightsError(`${where}: weight '${name}' appears twice in the manifest`);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(offset + 4 * i, true);
      weights.set(name, { dtype: 'float32', shape: [...shape], data });
      offset += 4 * n;
    }
    if (offset !== bytes.length) throw new WeightsError(`${where}: the shards hold ${bytes.length} bytes but the manifest describes ${offset}`);
  }
  return weights;
}

// ---------------------------------------------------------------------------------------------
// Topology: a Sequential, or a functional Model whose layers form one chain.
// ---------------------------------------------------------------------------------------------

interface TfjsLayer { className: string; name: string; config: Json; inbound: unknown }

function toLayer(raw: unknown, i: number): TfjsLayer {
  if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config)) {
    throw new ModelSpecError(`modelTopology layers[${i}]: expected {class_name, config}`);
  }
  const name = typeof raw.name === 'string' ? raw.name : typeof raw.config.name === 'string' ? raw.config.name : `layer${i}`;
  return { className: raw.class_name, name, config: raw.config, inbound: raw.inbound_nodes };
}

/** Names of the layers feeding one call: tfjs/Keras 2 `[[name, node, tensor, kwargs], …]`, Keras 3 `{args: […keras_history…]}`. */
function inboundNames(layer: TfjsLayer): string[] {
  const nodes = Array.isArray(layer.inbound) ? layer.inbound : [];
  if (nodes.length !== 1) throw new ModelSpecError(`layer '${layer.name}' is called ${nodes.length} times; shared or unused layers are not a linear chain`);
  const node = nodes[0];
  if (Array.isArray(node)) return node.map((t) => (Array.isArray(t) ? String(t[0]) : String(t)));
  const names: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isObject(v)) {
      if (isObject(v.config) && Array.isArray(v.config.keras_history)) names.push(String(v.config.keras_history[0]));
      else if (Array.isArray(v.args)) visit(v.args);
    }
  };
  visit(node);
  return names;
}

const endpointNames = (v: unknown): string[] =>
  Array.isArray(v) ? (typeof v[0] === 'string' ? [v[0]] : v.map((e) => String(Array.isArray(e) ? e[0] : e))) : [];

function functionalChain(config: Json): TfjsLayer[] {
  const layers = (Array.isArray(config.layers) ? config.layers : []).map(toLayer);
  const byName = new Map(layers.map((l) => [l.name, l]));
  const [inputs, outputs] = [endpointNames(config.input_layers), endpointNames(config.output_layers)];
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw new ModelSpecError(`the model has ${inputs.length} inputs and ${outputs.length} outputs; only single-input, single-output chains can be imported`);
  }
  const chain: TfjsLayer[] = [];
  for (let name = outputs[0]; ;) {
    const layer = byName.get(name);
    if (!layer) throw new ModelSpecError(`the topology refers to a layer '${name}' it does not define`);
    if (chain.includes(layer)) throw new ModelSpecError(`the topology has a cycle through '${name}'`);
    chain.unshift(layer);
    if (name === inputs[0]) break;
    const preds = inboundNames(layer);
    if (preds.length !== 1) throw new ModelSpecError(`layer '${name}' (${layer.className}) has ${preds.length} inputs; only linear chains can be imported (a graph spec must be written by hand)`);
    name = preds[0];
  }
  const off = layers.filter((l) => !chain.includes(l)).map((l) => l.name);
  if (off.length > 0) throw new ModelSpecError(`the model is not a linear chain: layers ${off.join(', ')} are not on the path from input to output`);
  return chain;
}

function layerChain(topology: Json): TfjsLayer[] {
  const model = isObject(topology.model_config) ? topology.model_config : topology;
  const cls = model.class_name;
  if (cls === 'Sequential') {
    const raw = Array.isArray(model.config) ? model.config : isObject(model.config) ? model.config.layers : undefined;
    if (!Array.isArray(raw) || raw.length === 0) throw new ModelSpecError('the Sequential model has no layers');
    return raw.map(toLayer);
  }
  if ((cls === 'Model' || cls === 'Functional') && isObject(model.config)) return functionalChain(model.config);
  throw new ModelSpecError(`model class ${JSON.stringify(cls)} is not supported; import a Sequential or a functional Model that is a linear chain`);
}

/** Per-sample input shape from an InputLayer or the first layer's batch_input_shape. */
function inputShapeOf(layers: TfjsLayer[]): number[] {
  const c = layers[0].config;
  const batch = c.batch_input_shape ?? c.batch_shape;
  const shape = Array.isArray(batch) ? batch.slice(1) : typeof c.input_dim === 'number' ? [c.input_dim] : c.input_shape;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ModelSpecError(`the input shape must be fully defined (got ${JSON.stringify(batch ?? shape ?? null)} at layer '${layers[0].name}')`);
  }
  return shape as number[];
}

// ---------------------------------------------------------------------------------------------
// Layout helpers.
// ---------------------------------------------------------------------------------------------

/** numpy's transpose of row-major data: out.shape[d] = shape[axes[d]]. */
export function transposeData<T extends Float32Array | Int32Array>(data: T, shape: number[], axes: number[]): T {
  const outShape = axes.map((a) => shape[a]);
  const inStrides = shape.map((_, d) => numel(shape.slice(d + 1)));
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const idx = new Array(outShape.length).fill(0);
  for (let j = 0; j < out.length; j++) {
    let src = 0;
    for (let d = 0; d < idx.length; d++) src += idx[d] * inStrides[axes[d]];
    out[j] = data[src];
    for (let d = idx.length - 1; d >= 0 && ++idx[d] === outShape[d]; d--) idx[d] = 0;
  }
  return out;
}

const CHANNELS_LAST = [1, 2, 0];
const CHANNELS_FIRST = [0, 1, 2];
const sameAxes = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const pair = (v: unknown, what: string, where: string): number[] => {
  const out = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 1 ? [v[0], v[0]] : v;
  if (!Array.isArray(out) || out.length !== 2 || !out.every((d) => Number.isInteger(d) && d >= 0)) throw new ModelSpecError(`${where}: ${what} ${JSON.stringify(v)} is not one or two integers`);
  return out as number[];
};

/** TensorFlow's 'same' padding: total (⌈in/s⌉−1)·s + d·(k−1) + 1 − in, the extra unit after. */
export function tfSamePadding(inSize: number, k: number, s: number, d = 1): [number, number] {
  const total = Math.max((Math.ceil(inSize / s) - 1) * s + d * (k - 1) + 1 - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

// ---------------------------------------------------------------------------------------------
// Conversion: one walk over the chain with the layout state.
// ---------------------------------------------------------------------------------------------

interface State {
  /** tfjs per-sample shape of the current tensor. */
  shape: number[];
  /** tfjs = transpose(ours, axes); null while a rank-3 input has met no layout-sensitive layer. */
  axes: number[] | null;
  inputAxes: number[] | null;
  /** Feature vectors: our feature i is tfjs feature perm[i]; null = the same order. */
  perm: Int32Array | null;
  layers: Json[];
  weights: Map<string, HostTensor>;
  /** Positions of softmax (and, for BCE, sigmoid) outputs, checked when the walk ends. */
  softmax: { at: number; name: string }[];
  notes: string[];
  source: Map<string, HostTensor>;
  used: Set<string>;
}

const oursShape = (st: State): number[] => {
  const axes = st.axes ?? st.shape.map((_, i) => i);
  const out = new Array(st.shape.length);
  axes.forEach((a, d) => (out[a] = st.shape[d]));
  return out;
};

function fixAxes(st: State, want: number[], where: string): void {
  if (st.axes === null) st.axes = st.inputAxes = want;
  else if (!sameAxes(st.axes, want)) throw new ModelSpecError(`${where}: expects ${sameAxes(want, CHANNELS_LAST) ? 'channels_last' : 'channels_first'} data but its input is laid out the other way; mixed data formats are not supported`);
}

function dataFormatAxes(cfg: Json, st: State, where: string): number[] {
  if (st.shape.length !== 3) throw new ModelSpecError(`${where}: needs [H, W, C] or [C, H, W] samples, got [${st.shape}]`);
  const fmt = cfg.data_format ?? 'channels_last';
  if (fmt !== 'channels_last' && fmt !== 'channels_first') throw new ModelSpecError(`${where}: data_format ${JSON.stringify(fmt)} is not supported`);
  const axes = fmt === 'channels_last' ? CHANNELS_LAST : CHANNELS_FIRST;
  fixAxes(st, axes, where);
  return axes;
}

/** The tfjs weight `<layer>/<param>` (also under a scope prefix), checked against its expected shape. */
function weight(st: State, layer: TfjsLayer, param: string, shape: number[]): HostTensor {
  const names = [...st.source.keys()].filter((n) => n === `${layer.name}/${param}` || n.endsWith(`/${layer.name}/${param}`));
  if (names.length !== 1) {
    const known = [...st.source.keys()].slice(0, 12).join(', ');
    throw new WeightsError(`layer '${layer.name}' (${layer.className}): ${names.length === 0 ? 'no' : 'more than one'} weight '${layer.name}/${param}' in the manifest (it has: ${known})`);
  }
  const t = st.source.get(names[0])!;
  if (!sameAxes(t.shape, shape)) throw new WeightsError(`weight '${names[0]}' has shape [${t.shape}], the layer's config needs [${shape}] (tfjs layout)`);
  st.used.add(names[0]);
  return t;
}

function emit(st: State, layer: Json, params: Record<string, HostTensor> = {}): void {
  const index = st.layers.length;
  st.layers.push(layer);
  for (const [name, t] of Object.entries(params)) st.weights.set(`${index}.${name}`, t);
}

/** Rows of a [rows, …] tensor in our feature order: out[i] = t[perm[i]]. */
function permuteRows(t: HostTensor, perm: Int32Array | null): Float32Array {
  const data = t.data as Float32Array;
  if (!perm) return data;
  const cols = numel(t.shape.slice(1));
  const out = new Float32Array(data.length);
  perm.forEach((src, i) => out.set(data.subarray(src * cols, (src + 1) * cols), i * cols));
  return out;
}

const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });

function activation(st: State, name: unknown, where: string): void {
  if (name === undefined || name === null) return;
  if (name === 'softmax') {
    // A placeholder: finishOutput drops it (last layer) or refuses the model (hidden softmax).
    st.softmax.push({ at: st.layers.length, name: where });
    return emit(st, { type: 'Identity' });
  }
  if (typeof name !== 'string' || !(name in ACTIVATIONS)) {
    throw new ModelSpecError(`${where}: activation ${JSON.stringify(name)} is not supported; supported: ${Object.keys(ACTIVATIONS).join(', ')}, softmax (last layer only)`);
  }
  if (ACTIVATIONS[name]) emit(st, { ...ACTIVATIONS[name] });
}

function dense(st: State, layer: TfjsLayer, where: string): void {
  const c = layer.config;
  if (st.shape.length > 1) {
    // tfjs's Dense acts on the last axis: the channels of [H, W, C], but W of our [C, H, W].
    if (st.axes && !sameAxes(st.axes, st.shape.map((_, i) => i))) throw new ModelSpecError(`${where}: a Dense on channels-last images [${st.shape}] is not supported; Flatten first`);
    fixAxes(st, st.shape.map((_, i) => i), where);
  }
  const units = c.units as number;
  const inF = st.shape.at(-1)!;
  const kernel = weight(st, layer, 'kernel', [inF, units]);
  const W = transposeData(permuteRows(kernel, st.perm), [inF, units], [1, 0]);
  const params: Record<string, HostTensor> = { weight: f32([units, inF], W) };
  if (c.use_bias !== false) params.bias = weight(st, layer, 'bias', [units]);
  emit(st, { type: 'Linear', in_features: inF, out_features: units, bias: c.use_bias !== false }, params);
  st.shape = [...st.shape.slice(0, -1), units];
  st.perm = null;
  activation(st, c.activation, where);
}

function conv2d(st: State, layer: TfjsLayer, where: string): void {
  const c = layer.config;
  const axes = dataFormatAxes(c, st, where);
  if (c.groups !== undefined && c.groups !== 1) throw new ModelSpecError(`${where}: groups=${String(c.groups)} is not supported by the import`);
  const [k, s, d] = [pair(c.kernel_size, 'kernel_size', where), pair(c.strides ?? 1, 'strides', where), pair(c.dilation_rate ?? 1, 'dilation_rate', where)];
  const [cin, ...spatial] = oursShape(st);
  const cout = c.filters as number;
  let padding: number[] | 'same' = [0, 0];
  let out = spatial.map((n, i) => Math.floor((n - d[i] * (k[i] - 1) - 1) / s[i]) + 1);
  if (c.padding === 'same') {
    const pads = spatial.map((n, i) => tfSamePadding(n, k[i], s[i], d[i]));
    out = spatial.map((n, i) => Math.ceil(n / s[i]));
    if (pads.every(([lo, hi]) => lo === hi)) padding = pads.map(([lo]) => lo);
    else if (s.every((v) => v === 1)) padding = 'same'; // torch's 'same' splits as TF does at stride 1
    else {
      // NOTE: TF pads the extra unit after; our Conv2d pads symmetrically, so pad explicitly first.
      emit(st, { type: 'ZeroPad2d', padding: [pads[1][0], pads[1][1], pads[0][0], pads[0][1]] });
      st.notes.push(`${where}: padding 'same' with stride [${s}] is asymmetric in TF; imported as ZeroPad2d [left, right, top, bottom] = [${pads[1]}, ${pads[0]}] before the Conv2d`);
    }
  } else if (c.padding !== 'valid' && c.padding !== undefined) {
    throw new ModelSpecError(`${where}: padding ${JSON.stringify(c.padding)} is not supported (valid, same)`);
  }
  if (out.some((o) => o < 1)) throw new ModelSpecError(`${where}: input [${st.shape}] is too small for kernel [${k}]`);
  const kernel = weight(st, layer, 'kernel', [k[0], k[1], cin, cout]);
  const params: Record<string, HostTensor> = { weight: f32([cout, cin, k[0], k[1]], transposeData(kernel.data as Float32Array, kernel.shape, [3, 2, 0, 1])) };
  if (c.use_bias !== false) params.bias = weight(st, layer, 'bias', [cout]);
  emit(st, { type: 'Conv2d', in_channels: cin, out_channels: cout, kernel_size: k, stride: s, dilation: d, padding, bias: c.use_bias !== false }, params);
  st.shape = transposeShape([cout, ...out], axes);
  activation(st, c.activation, where);
}

const transposeShape = (ours: number[], axes: number[]) => axes.map((a) => ours[a]);

function pool2d(st: State, layer: TfjsLayer, where: string, type: 'MaxPool2d' | 'AvgPool2d'): void {
  const c = layer.config;
  const axes = dataFormatAxes(c, st, where);
  const k = pair(c.pool_size ?? 2, 'pool_size', where);
  const s = pair(c.strides ?? k, 'strides', where);
  const [ch, ...spatial] = oursShape(st);
  let pad = [0, 0];
  let out = spatial.map((n, i) => Math.floor((n - k[i]) / s[i]) + 1);
  if (c.padding === 'same') {
    const pads = spatial.map((n, i) => tfSamePadding(n, k[i], s[i]));
    if (!pads.every(([lo, hi]) => lo === hi)) {
      throw new ModelSpecError(`${where}: padding 'same' pads [${pads.map((p) => p.join('/'))}] (before/after, per dim) here, asymmetric as TF pads; only pools whose 'same' padding is symmetric can be imported (use padding 'valid')`);
    }
    pad = pads.map(([lo]) => lo);
    out = spatial.map((n, i) => Math.ceil(n / s[i]));
  } else if (c.padding !== 'valid' && c.padding !== undefined) {
    throw new ModelSpecError(`${where}: padding ${JSON.stringify(c.padding)} is not supported (valid, same)`);
  }
  if (out.some((o) => o < 1)) throw new ModelSpecError(`${where}: input [${st.shape}] is too small for pool_size [${k}]`);
  // TF's 'same' pools ignore the padded cells: -inf for max (as torch pads), excluded from the average.
  const extra = type === 'AvgPool2d' && pad.some((p) => p > 0) ? { count_include_pad: false } : {};
  emit(st, { type, kernel_size: k, stride: s, padding: pad, ...extra });
  st.shape = transposeShape([ch, ...out], axes);
}

function flatten(st: State, c: Json): void {
  if (st.shape.length === 1) return;
  const shape = oursShape(st);
  // Which of our flat indices sits at each tfjs flat index: arrange ours as tfjs does, then read.
  let order = transposeData(Int32Array.from({ length: numel(shape) }, (_, i) => i), shape, st.axes ?? shape.map((_, i) => i));
  if (c.data_format === 'channels_first') {
    const r = st.shape.length;
    order = transposeData(order, st.shape, [...Array.from({ length: r - 1 }, (_, i) => i + 1), 0]);
  }
  const perm = new Int32Array(order.length);
  order.forEach((ours, j) => (perm[ours] = j));
  emit(st, { type: 'Flatten' });
  st.shape = [order.length];
  st.axes = [0];
  st.perm = perm.every((v, i) => v === i) ? null : perm;
}

function batchNorm(st: State, layer: TfjsLayer, where: string): void {
  const c = layer.config;
  const rank = st.shape.length;
  const axisRaw = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : (c.axis ?? -1);
  if (typeof axisRaw !== 'number') throw new ModelSpecError(`${where}: axis ${JSON.stringify(c.axis)} is not supported (one channel axis)`);
  const a = (axisRaw < 0 ? rank + 1 + axisRaw : axisRaw) - 1; // per-sample axis
  let type: 'BatchNorm1d' | 'BatchNorm2d';
  if (rank === 1 && a === 0) type = 'BatchNorm1d';
  else if (rank === 3 && (a === 0 || a === 2)) {
    if (st.axes === null) fixAxes(st, a === 2 ? CHANNELS_LAST : CHANNELS_FIRST, where);
    if (st.axes![a] !== 0) throw new ModelSpecError(`${where}: normalises axis ${axisRaw}, which is not the channel axis of its input`);
    type = 'BatchNorm2d';
  } else throw new ModelSpecError(`${where}: axis ${axisRaw} on samples of shape [${st.shape}] is not supported (features [C] or images with a channel axis)`);
  const C = st.shape[a];
  const take = (param: string, fill: number | null) => {
    if (fill !== null) return f32([C], new Float32Array(C).fill(fill));
    const t = weight(st, layer, param, [C]);
    return f32([C], rank === 1 ? permuteRows(t, st.perm) : (t.data as Float32Array));
  };
  const [scale, center] = [c.scale !== false, c.center !== false];
  const params: Record<string, HostTensor> = {};
  if (scale || center) {
    params.weight = take('gamma', scale ? null : 1);
    params.bias = take('beta', center ? null : 0);
    if (!scale || !center) st.notes.push(`${where}: ${scale ? 'center' : 'scale'}=false; imported with a constant ${scale ? 'bias 0' : 'weight 1'} (ours is trainable)`);
  }
  params.running_mean = take('moving_mean', null);
  params.running_var = take('moving_variance', null);
  emit(st, { type, num_features: C, eps: (c.epsilon as number | undefined) ?? 1e-3, affine: scale || center }, params);
}

function elementwise(st: State, layer: TfjsLayer, where: string): void {
  const c = layer.config;
  switch (layer.className) {
    case 'Dropout':
      return emit(st, { type: 'Dropout', p: (c.rate as number | undefined) ?? 0.5 });
    case 'Activation':
      return activation(st, c.activation, where);
    case 'Softmax':
      if (c.axis !== undefined && c.axis !== -1 && c.axis !== st.shape.length) throw new ModelSpecError(`${where}: softmax over axis ${String(c.axis)} is not supported`);
      return activation(st, 'softmax', where);
    case 'ELU':
      return emit(st, { type: 'ELU', alpha: (c.alpha as number | undefined) ?? 1 });
    case 'LeakyReLU':
      return emit(st, { type: 'LeakyReLU', negative_slope: (c.alpha ?? c.negative_slope ?? 0.3) as number });
    case 'ReLU': {
      if ((c.max_value ?? null) !== null || (c.threshold ?? 0) !== 0) throw new ModelSpecError(`${where}: ReLU with max_value or threshold is not supported`);
      const slope = (c.negative_slope ?? 0) as number;
      return emit(st, slope === 0 ? { type: 'ReLU' } : { type: 'LeakyReLU', negative_slope: slope });
    }
  }
}

function convertLayer(st: State, layer: TfjsLayer, i: number): void {
  const where = `layer ${i} '${layer.name}' (${layer.className})`;
  const c = layer.config;
  switch (layer.className) {
    case 'InputLayer':
      if (i !== 0) throw new ModelSpecError(`${where}: an InputLayer inside the chain is not supported`);
      return;
    case 'Dense': return dense(st, layer, where);
    case 'Conv2D': return conv2d(st, layer, where);
    case 'MaxPooling2D': return pool2d(st, layer, where, 'MaxPool2d');
    case 'AveragePooling2D': return pool2d(st, layer, where, 'AvgPool2d');
    case 'GlobalAveragePooling2D': {
      dataFormatAxes(c, st, where);
      if (c.keepdims === true) throw new ModelSpecError(`${where}: keepdims=true is not supported`);
      const C = oursShape(st)[0];
      emit(st, { type: 'AdaptiveAvgPool2d', output_size: 1 });
      emit(st, { type: 'Flatten' });
      Object.assign(st, { shape: [C], axes: [0], perm: null });
      return;
    }
    case 'ZeroPadding2D': {
      const axes = dataFormatAxes(c, st, where);
      const p = c.padding ?? 1;
      const [[t, b], [l, r]] = Array.isArray(p) && Array.isArray(p[0]) ? (p as unknown[]).map((q) => pair(q, 'padding', where)) : pair(p, 'padding', where).map((v) => [v, v]);
      emit(st, { type: 'ZeroPad2d', padding: [l, r, t, b] });
      const [ch, h, w] = oursShape(st);
      st.shape = transposeShape([ch, h + t + b, w + l + r], axes);
      return;
    }
    case 'Flatten': return flatten(st, c);
    case 'BatchNormalization': return batchNorm(st, layer, where);
    case 'Dropout': case 'Activation': case 'Softmax': case 'ELU': case 'LeakyReLU': case 'ReLU':
      return elementwise(st, layer, where);
    default:
      throw new ModelSpecError(`${where}: layer class '${layer.className}' cannot be imported; supported: ${SUPPORTED_TFJS_LAYERS.join(', ')}`);
  }
}

/** The output's last layer: softmax dropped for CrossEntropyLoss, sigmoid for BCEWithLogitsLoss. */
function finishOutput(st: State, loss: LossKind): void {
  const last = st.softmax.at(-1);
  if (last && last.at === st.layers.length - 1) {
    if (loss !== 'CrossEntropyLoss') throw new ModelSpecError(`${last.name}: a softmax output imports only with CrossEntropyLoss (our losses take logits), not ${loss}`);
    st.layers.pop();
    st.softmax.pop();
    st.notes.push(`${last.name}: the final softmax is dropped; CrossEntropyLoss takes logits`);
  } else if (loss === 'BCEWithLogitsLoss' && st.layers.at(-1)?.type === 'Sigmoid' && st.layers.length > 1) {
    st.layers.pop();
    st.notes.push('the final sigmoid is dropped; BCEWithLogitsLoss takes logits');
  }
  if (st.softmax.length > 0) throw new ModelSpecError(`${st.softmax[0].name}: softmax in a hidden layer is not supported (only as the last layer, where it is dropped for CrossEntropyLoss)`);
  if (st.perm) throw new ModelSpecError('the output is a Flatten of channels-last data, whose feature order differs from ours; end the model with a Dense layer');
  if (st.axes && !sameAxes(st.axes, st.axes.map((_, i) => i))) st.notes.push(`the output is channels-first [${oursShape(st)}]; MSE/BCE targets must be transposed from tfjs's [${st.shape}]`);
}

/** Converts a parsed topology and its weights (tfjs names and layouts) into our spec and weights. */
export function convertTfjsLayers(topology: Json, source: Map<string, HostTensor>, opts: TfjsImportOptions = {}, label = 'tfjs model'): ImportedModel {
  const type = opts.loss?.type ?? 'CrossEntropyLoss';
  const reduction = opts.loss?.reduction ?? 'mean';
  if (!LOSS_KINDS.includes(type)) throw new ModelSpecError(`loss ${JSON.stringify(type)} is not one of ${LOSS_KINDS.join(', ')}`);
  if (!REDUCTIONS.includes(reduction)) throw new ModelSpecError(`reduction ${JSON.stringify(reduction)} is not one of ${REDUCTIONS.join(', ')}`);
  const chain = layerChain(topology);
  const inputShape = inputShapeOf(chain);
  const st: State = {
    shape: inputShape, axes: inputShape.length === 3 ? null : inputShape.map((_, i) => i), inputAxes: null, perm: null,
    layers: [], weights: new Map(), softmax: [], notes: [], source, used: new Set(),
  };
  st.inputAxes = st.axes;
  chain.forEach((layer, i) => {
    convertLayer(st, layer, i);
    if (layer.config.trainable === false) st.notes.push(`layer '${layer.name}' is not trainable in tfjs; ours computes its gradients like any other`);
  });
  finishOutput(st, type);
  const unused = [...source.keys()].filter((n) => !st.used.has(n));
  if (unused.length > 0) st.notes.push(`weights not used by any imported layer: ${unused.join(', ')}`);
  const inAxes = st.inputAxes ?? inputShape.map((_, i) => i);
  const ours = new Array(inputShape.length);
  inAxes.forEach((a, d) => (ours[a] = inputShape[d]));
  const spec = parseModelSpec({ input_shape: ours, layers: st.layers, loss: { type, reduction } }, `${label} (imported)`);
  // A safety net: the spec's own shape inference must agree with every converted tensor.
  const { params, buffers } = describeParameters(spec);
  for (const [key, shape] of Object.entries({ ...params, ...buffers })) {
    const t = st.weights.get(key);
    if (!t || !sameAxes(t.shape, shape)) throw new WeightsError(`${label}: imported '${key}' has shape [${t?.shape ?? 'missing'}], the spec needs [${shape}]`);
  }
  return { spec, weights: st.weights, notes: st.notes };
}
