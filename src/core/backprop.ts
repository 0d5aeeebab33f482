/**
 * The backward half of extended backprop on one shard (BackPACK's hooks, made explicit). At every
 * parametric layer each requested quantity computes its partials from the layer input x, the output
 * gradient g and the backpropagated factors; then g and the factors move on to the layer's input.
 */
import { tf } from './tf.ts';
import { mathOf } from './derivatives/index.ts';
import type { Layer } from './derivatives/types.ts';
import { mergeJacT } from './derivatives/merge.ts';
import { paramSquares } from './derivatives/param-squares.ts';
import { propagateFactors, type Factor, type Factors } from './factors.ts';
import { disposeShardState, forwardShard, type ShardRequest, type ShardState } from './forward.ts';
import { sampleUniforms, STREAM } from './random.ts';
import { QUANTITIES } from '../extensions/index.ts';
import { skipKey } from '../extensions/support.ts';
import { capabilityGap } from './capabilities.ts';
import type { ParamContext, RuleOutput } from '../extensions/types.ts';
import { releaseHostData } from '../io/host-tensor.ts';
import { takeFloat64 } from '../io/host-buffers.ts';
import { scaledInto, widenInto } from '../io/host-loops.ts';
import { momentsOfRows, momentsOfShifted } from './shard-moments.ts';
import type { Network } from '../nn/network.ts';
import type { PartialEntry, SampleRange, ShardPartials } from './partials.ts';
import { GRAD_FIELD, type ParamName } from '../vocabulary.ts';


/**
 * The shard's gradient from the moments of its per-sample gradients, mean × count in float64
 * (exact to float64 rounding: the mean is s + S1/n of the shifted sums).
 */
function gradFromMoments(m: Extract<PartialEntry, { kind: 'moments' }>): PartialEntry {
  const width = m.data.length / 2;
  const data = takeFloat64(width);
  scaledInto(data, m.data.subarray(0, width), m.count);
  return { kind: 'sum', shape: m.shape, data };
}

/** A pooled float64 copy (host-buffers.ts): the run gives it back once merged. */
function float64Copy(values: ArrayLike<number>): Float64Array {
  const data = takeFloat64(values.length);
  widenInto(data, values);
  return data;
}

function toEntry(out: Pick<RuleOutput, 'kind' | 'value'> & { form?: 'rows' | 'shifted' }, rowIndex: Int32Array, count: number): PartialEntry {
  const { kind, value } = out;
  if (kind === 'sum' || kind === 'moments') {
    // Sums and moments (over the shard's `count` samples) are read and let go at once.
    const values = value.dataSync();
    const shape = value.shape.slice(1);
    const entry: PartialEntry =
      kind === 'sum' ? { kind, shape: value.shape, data: float64Copy(values) }
      : out.form === 'rows' ? momentsOfRows(values, count, shape)
      : momentsOfShifted(values, count, shape);
    releaseHostData(values);
    return entry;
  }
  // Per-sample rows are taken as dataSync returns them: a copy (wasm), or on native a view of the
  // tensor's own memory — either way not copied again here.
  return { kind, rowShape: value.shape.slice(1), index: rowIndex, data: value.dataSync() as Float32Array };
}

/** A parameter's context, and whether its gradient has been made so far (by a quantity on its way). */
function paramContext(state: ShardState, layer: Layer, param: ParamName, x: tf.Tensor, gOut: tf.Tensor, factors: Factors): { p: ParamContext; gradMade: () => boolean } {
  const math = mathOf(layer.kind);
  const jac = math.paramJacT![param]!;
  const withSum = math.paramJacTWithSum?.[param];
  const { rows } = state;
  const memo = new Map<unknown, tf.Tensor>();
  const remember = <K>(key: K, compute: () => tf.Tensor) => {
    if (!memo.has(key)) memo.set(key, compute());
    return memo.get(key)!;
  };
  const index = rows ? remember('rows', () => tf.tensor1d(rows.local, 'int32')) : null;
  const subRows = (t: tf.Tensor, axis: number) => (index ? tf.gather(t, index, axis) : t);
  const sub = () => ({ x: remember('sub.x', () => subRows(x, 0)), gOut: remember('sub.g', () => subRows(gOut, 0)) });
  const key = `${layer.name}.${param}`;
  const vectors = state.req.vectors?.get(key);
  const ctx: ParamContext = {
    layer,
    param,
    key,
    x,
    gOut,
    memo: remember,
    sub,
    subRows,
    factors,
    paramSqrt: (f: Factor) => remember(f, () => jac(layer, x, f.S, false)),
    squares: (V, mode, opts = {}) => paramSquares(layer, param, opts.sub ? sub().x : x, V, mode, opts.shift),
    gradBatch: () =>
      remember('gradBatch', () => {
        // Where the module makes the rows and their sum in one pass, the sum is the gradient too.
        const V = gOut.expandDims(0);
        const pair = memo.has('gradSum') ? null : withSum?.(layer, x, V);
        if (!pair) return jac(layer, x, V, false).squeeze([0]);
        memo.set('gradSum', pair[1].squeeze([0]));
        return pair[0].squeeze([0]);
      }),
    gradSum: () => remember('gradSum', () => jac(layer, x, gOut.expandDims(0), true).squeeze([0])),
    gradBatchSub: () => (rows ? remember('gradBatchSub', () => jac(layer, sub().x, sub().gOut.expandDims(0), false).squeeze([0])) : ctx.gradBatch()),
    // Vectors arrive as float32 from the CLI (checkVectors); library callers may pass float64.
    vectors: vectors ? remember('vectors', () => tf.tensor(vectors.data instanceof Float32Array ? vectors.data : Float32Array.from(vectors.data as Float64Array), vectors.shape)) : undefined,
  };
  return { p: ctx, gradMade: () => memo.has('gradSum') };
}

const withoutEmpty = (factors: Factors): Factors => Object.fromEntries(Object.entries(factors).filter(([, list]) => list !== undefined));

const disposeFactors = (factors: Factors) => Object.values(factors).flat().forEach((f) => f.S.dispose());

/** The factors at the network output, √ρ-scaled, for the backprops the quantities need. */
function initialFactors(state: ShardState): Factors {
  const needs = new Set(state.req.extensions.flatMap((q) => QUANTITIES[q].backprops));
  const f = state.acts[state.acts.length - 1];
  const root = Math.sqrt(state.rho);
  const factors: Factors = {};
  if (needs.has('sqrtExact') || needs.has('hessian')) {
    const exact = state.loss.sqrtHessian(f).mul(root);
    if (needs.has('sqrtExact')) factors.sqrtExact = [{ S: exact, sign: 1, id: 'loss' }];
    if (needs.has('hessian')) factors.hessian = [{ S: exact, sign: 1, id: 'loss' }];
  }
  if (needs.has('sqrtMC')) {
    const { seed, offset, mcSamples = 1 } = state.req;
    const uniforms = (mc: number, row: number, count: number) => sampleUniforms(seed, STREAM.mcLoss, mc, offset + row, count);
    factors.sqrtMC = [{ S: state.loss.sampledSqrtHessian(f, mcSamples, uniforms).mul(root), sign: 1, id: 'loss' }];
  }
  return factors;
}

/** Partials of every parameter of one layer, from its input x, output gradient and factors. */
function layerPartials(state: ShardState, layer: Layer, x: tf.Tensor, gOut: tf.Tensor, factors: Factors, rowIndex: Int32Array, entries: Record<string, PartialEntry>): void {
  const { req, rows } = state;
  for (const param of Object.keys(layer.params) as ParamName[]) {
    tf.tidy(() => {
      const key = `${layer.name}.${param}`;
      // A shard holding none of the subsampled samples still sends (empty) rows entries.
      const noRows = rows !== null && rows.local.length === 0;
      const { p, gradMade } = paramContext(noRows ? { ...state, rows: null } : state, layer, param, x, gOut, factors);
      // The quantities first: one may make the gradient on its way (BatchGrad's rows and their sum,
      // or the moments of the per-sample gradients).
      const outputs = req.extensions.filter((q) => !req.skip?.includes(skipKey(layer.name, q))).flatMap((q) => QUANTITIES[q].rule(p));
      const made: Record<string, PartialEntry> = {};
      for (const out of outputs) {
        // A field two quantities share (Variance's moments, also GradientNoiseScale's) is the same
        // statistic: reduce it to host memory once.
        if (made[out.field]?.kind === out.kind) continue;
        made[out.field] = noRows && out.kind === 'rows'
          ? { kind: 'rows', rowShape: out.value.shape.slice(1), index: new Int32Array(0), data: new Float32Array(0) }
          : toEntry(out, rowIndex, state.n);
      }
      const moments = outputs.find((o) => o.kind === 'moments' && o.gradients);
      const momentsEntry = moments && made[moments.field];
      entries[`${key}.${GRAD_FIELD}`] = momentsEntry?.kind === 'moments' && !gradMade()
        ? gradFromMoments(momentsEntry)
        : toEntry({ kind: 'sum', value: p.gradSum() }, rowIndex, state.n);
      for (const [field, entry] of Object.entries(made)) entries[`${key}.${field}`] = entry;
    });
  }
}

/**
 * What flows backwards into one activation: the loss gradient and the factors. A node read by
 * several consumers (a residual branch point) receives the sum of their contributions; factors
 * with the same origin are summed, not listed twice, so Σ S Sᵀ stays exact.
 */
class Inbox {
  private grads = new Map<number, tf.Tensor>();
  private factors = new Map<number, Factors>();

  deliver(target: number, g: tf.Tensor, factors: Factors): void {
    const prev = this.grads.get(target);
    this.grads.set(target, prev ? prev.add(g) : g.clone());
    prev?.dispose();
    const into = this.factors.get(target) ?? {};
    for (const [kind, list] of Object.entries(factors) as [keyof Factors, Factor[]][]) {
      const acc = (into[kind] ??= []);
      for (const f of list) {
        const same = acc.findIndex((a) => a.id === f.id);
        if (same < 0) acc.push({ ...f, S: f.S.clone() });
        else {
          const old = acc[same].S;
          acc[same] = { ...f, S: old.add(f.S) };
          old.dispose();
        }
      }
    }
    this.factors.set(target, into);
  }

  /** Takes (and forgets) what arrived for an activation. */
  take(target: number): { g: tf.Tensor; factors: Factors } | null {
    const g = this.grads.get(target);
    if (!g) return null;
    const factors = this.factors.get(target) ?? {};
    this.grads.delete(target);
    this.factors.delete(target);
    return { g, factors };
  }
}

/** Runs the backward pass over a forward state and returns the shard's partials. */
export function backwardShard(net: Network, state: ShardState): ShardPartials {
  const { req, n, rows } = state;
  const rowIndex = rows ? rows.global : Int32Array.from({ length: n }, (_, i) => req.offset + i);
  const entries: Record<string, PartialEntry> = {};
  tf.tidy(() => {
    const f = state.acts[state.acts.length - 1];
    const inbox = new Inbox();
    const hessianQuantities = req.extensions.filter((q) => QUANTITIES[q].backprops.includes('hessian')).join(', ');
    const last = net.nodes.length - 1;
    // Gradients are sent back only to activations with parameters at or before them.
    const needed = net.nodes.reduce<boolean[]>((acc, node, j) => {
      const own = node.kind === 'layer' && Object.keys(node.layer.params).length > 0;
      acc[j] = own || node.inputs.some((i) => i >= 0 && acc[i]);
      return acc;
    }, []);
    inbox.deliver(last, state.loss.gradient(f, state.targets).mul(state.rho), initialFactors(state));
    for (let j = last; j >= 0; j--) {
      const arrived = inbox.take(j);
      if (!arrived) continue;
      const { g, factors } = arrived;
      const node = net.nodes[j];
      const y = state.acts[j + 1];
      if (node.kind === 'layer') {
        const { layer } = node;
        const input = node.inputs[0];
        const x = state.acts[input + 1];
        layerPartials(state, layer, x, g, factors, rowIndex, entries);
        // Nothing needs the gradient w.r.t. the network input, or w.r.t. parameter-free prefixes.
        if (input >= 0 && needed[input]) {
          const math = mathOf(layer.kind);
          let moved: Factors = {};
          // Skipping: a layer whose record cannot move the Hessian factors ends them (every
          // quantity of the layers before it that needs them is skipped too).
          const carried = req.skip && factors.hessian && capabilityGap(layer, 'inputHessian') ? { ...factors, hessian: undefined } : factors;
          const gIn = tf.tidy(() => {
            moved = propagateFactors(layer, x, y, g, withoutEmpty(carried), hessianQuantities);
            // tidy keeps only what it returns; the factors are kept explicitly (they sit inside the outer tidy).
            for (const m of Object.values(moved).flat()) tf.keep(m.S);
            return math.jacTMatProd(layer, x, y, g.expandDims(0)).squeeze([0]);
          });
          inbox.deliver(input, gIn, moved);
          gIn.dispose();
          disposeFactors(moved);
        }
      } else {
        const grads = mergeJacT(node.merge, node.inShapes, g.expandDims(0)).map((t) => t.squeeze([0]));
        const perInput = node.inputs.map(() => ({}) as Factors);
        for (const [kind, list] of Object.entries(factors) as [keyof Factors, Factor[]][]) {
          for (const fac of list) {
            mergeJacT(node.merge, node.inShapes, fac.S).forEach((S, k) => (perInput[k][kind] ??= []).push({ ...fac, S }));
          }
        }
        node.inputs.forEach((input, k) => {
          if (input >= 0 && needed[input]) inbox.deliver(input, grads[k], perInput[k]);
        });
      }
      g.dispose();
      disposeFactors(factors);
    }
  });
  return { shardId: req.shardId, offset: req.offset, count: n, loss: state.lossSum.dataSync()[0] * state.rho, entries };
}

/** Forward + extended backward on one shard; frees everything but the returned partials. */
export function computeShard(net: Network, req: ShardRequest): ShardPartials {
  const state = forwardShard(net, req);
  try {
    return backwardShard(net, state);
  } finally {
    disposeShardState(state);
  }
}

/** Splits rows [0, N) into shards of `size` (the last one may be smaller). */
export function planShards(N: number, size: number): SampleRange[] {
  const plan: SampleRange[] = [];
  for (let offset = 0; offset < N; offset += size) plan.push({ offset, count: Math.min(size, N - offset) });
  return plan;
}

