/**
 * Extended backprop on one shard (BackPACK's hooks, made explicit): a forward pass that keeps each
 * layer's input, then a backward pass that at every parametric layer lets each requested quantity
 * compute its partials from the layer input x and the output gradient g, before g moves on.
 */
import { tf } from './tf.ts';
import { mathOf } from './derivatives/index.ts';
import type { ForwardContext, Layer } from './derivatives/types.ts';
import { checkedInputs, sliceRows } from './inputs.ts';
import { ruleFor } from '../extensions/index.ts';
import type { ParamContext } from '../extensions/types.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { LOSSES } from '../nn/losses/index.ts';
import type { Network } from '../nn/network.ts';
import type { PartialEntry, ShardPartials } from '../reduce/partials.ts';
import { GRAD_FIELD, type ExtensionName, type ParamName } from '../vocabulary.ts';
import { UsageError } from '../errors/index.ts';

export interface ShardRequest {
  shardId: number;
  /** Inputs [n, *input_shape] and targets of this shard only. */
  inputs: HostTensor;
  targets: HostTensor;
  /** Global index of the shard's first sample and the global batch size N (for ρ). */
  offset: number;
  N: number;
  extensions: ExtensionName[];
  /** Global sample indices for per-sample quantities (all samples when absent). */
  subsampling?: number[];
  seed: number;
}

/** The shard's rows that subsampling selects: local positions and their global indices. */
function selectedRows(req: ShardRequest, n: number): { local: Int32Array; global: Int32Array } | null {
  if (!req.subsampling) return null;
  const mine = [...new Set(req.subsampling)].filter((s) => s >= req.offset && s < req.offset + n).sort((a, b) => a - b);
  return { local: Int32Array.from(mine, (s) => s - req.offset), global: Int32Array.from(mine) };
}

function toEntry(kind: 'sum' | 'rows', value: tf.Tensor, rowIndex: Int32Array): PartialEntry {
  if (kind === 'sum') return { kind, shape: value.shape, data: Float64Array.from(value.dataSync()) };
  return { kind, rowShape: value.shape.slice(1), index: rowIndex, data: Float32Array.from(value.dataSync()) };
}

function paramContext(layer: Layer, param: ParamName, x: tf.Tensor, gOut: tf.Tensor, rows: ReturnType<typeof selectedRows>): ParamContext {
  const jac = mathOf(layer.kind).paramJacT![param]!;
  const memo = new Map<string, tf.Tensor>();
  const remember = (key: string, compute: () => tf.Tensor) => {
    if (!memo.has(key)) memo.set(key, compute());
    return memo.get(key)!;
  };
  const sub = () =>
    rows
      ? { x: remember('sub.x', () => tf.gather(x, tf.tensor1d(rows.local, 'int32'))), gOut: remember('sub.g', () => tf.gather(gOut, tf.tensor1d(rows.local, 'int32'))) }
      : { x, gOut };
  const ctx: ParamContext = {
    layer,
    param,
    x,
    gOut,
    memo: remember,
    sub,
    gradBatch: () => remember('gradBatch', () => jac(layer, x, gOut.expandDims(0), false).squeeze([0])),
    gradBatchSub: () => (rows ? remember('gradBatchSub', () => jac(layer, sub().x, sub().gOut.expandDims(0), false).squeeze([0])) : ctx.gradBatch()),
  };
  return ctx;
}

/** Runs forward + extended backward on one shard and returns its partials. */
export function computeShard(net: Network, req: ShardRequest): ShardPartials {
  const n = req.inputs.shape[0];
  if (req.offset < 0 || req.offset + n > req.N) throw new UsageError(`shard [${req.offset}, ${req.offset + n}) lies outside the batch of ${req.N} samples`);
  const loss = LOSSES[net.loss.type];
  const xs = checkedInputs(req.inputs, net.inputShape, 'inputs', req.offset);
  const rows = selectedRows(req, n);
  const rowIndex = rows ? rows.global : Int32Array.from({ length: n }, (_, i) => req.offset + i);
  const entries: Record<string, PartialEntry> = {};
  let lossValue = 0;

  tf.tidy(() => {
    const y = loss.targets(req.targets, net.outputShape, 'targets');
    const ctx: ForwardContext = { seed: req.seed, sampleIndex: Int32Array.from({ length: n }, (_, i) => req.offset + i) };
    const acts: tf.Tensor[] = [tf.tensor(xs, [n, ...net.inputShape])];
    for (const layer of net.layers) acts.push(mathOf(layer.kind).forward(layer, acts[acts.length - 1], ctx));
    const f = acts[acts.length - 1];
    const rho = loss.rho(net.loss.reduction, req.N, net.outputShape);
    lossValue = loss.perSample(f, y).sum().dataSync()[0] * rho;

    let g = loss.gradient(f, y).mul(rho);
    for (let i = net.layers.length - 1; i >= 0; i--) {
      const layer = net.layers[i];
      const x = acts[i];
      const math = mathOf(layer.kind);
      const gOut = g;
      for (const param of Object.keys(layer.params) as ParamName[]) {
        tf.tidy(() => {
          const key = `${layer.index}.${param}`;
          entries[`${key}.${GRAD_FIELD}`] = toEntry('sum', math.paramJacT![param]!(layer, x, gOut.expandDims(0), true).squeeze([0]), rowIndex);
          const p = paramContext(layer, param, x, gOut, rows);
          for (const q of req.extensions) {
            for (const out of ruleFor(q, layer.kind)(p)) entries[`${key}.${out.field}`] = toEntry(out.kind, out.value, rowIndex);
          }
        });
      }
      if (i > 0) g = tf.tidy(() => math.jacTMatProd(layer, x, acts[i + 1], gOut.expandDims(0)).squeeze([0]));
    }
  });
  return { shardId: req.shardId, offset: req.offset, count: n, loss: lossValue, entries };
}

/** Splits rows [0, N) into shards of `size` (the last one may be smaller). */
export function planShards(N: number, size: number): { offset: number; count: number }[] {
  const plan = [];
  for (let offset = 0; offset < N; offset += size) plan.push({ offset, count: Math.min(size, N - offset) });
  return plan;
}

export { sliceRows };
