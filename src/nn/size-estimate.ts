/**
 * How much memory a job needs, from its spec alone (shape inference, nothing allocated): per node,
 * the activation kept for the backward pass and the backward work there (the stacked factors
 * going in and out, unfolded convolution patches, per-sample parameter Jacobians); per quantity,
 * the outputs per sample and per job. One estimate for every caller: `run` and queue `submit`
 * refuse what does not fit before reading inputs, queue workers before computing, and
 * coordinator/memory-plan.ts cuts shards with it. It is a generous upper bound (float32 = 4 bytes,
 * float64 accumulators = 8, a few working copies), not a measurement.
 */
import { hasHessianResidual } from '../core/factors.ts';
import { QUANTITIES } from '../extensions/index.ts';
import { numel } from '../io/host-tensor.ts';
import type { Backprop, ExtensionName } from '../vocabulary.ts';
import { inferShapes } from './shapes.ts';
import type { ModelSpec } from './spec.ts';

/** Live copies of the kept activations (the forward's temporaries, the gradient beside them). */
const ACTIVATION_COPIES = 2;
/** Live copies of one node's backward work (an op's input and output, plus a temporary). */
const WORK_COPIES = 3;
/**
 * Live copies of a layer's unfolded windows: the window gathers make index, mask and transposed
 * copies (measured on cpu with tf.profile: up to ~11 for a max pool's backward).
 */
const UNFOLD_COPIES = 12;
/** What a shard allocates whatever the model: cached index maps, random draws, backend scratch. */
const SHARD_OVERHEAD = 64 * 2 ** 10;
const F32 = 4;
const F64 = 8;

export interface SizeRequest {
  extensions: readonly ExtensionName[];
  /** Samples of the batch (its N): per-sample outputs are N rows. */
  N: number;
  mcSamples?: number;
  /** GGNMP/HMP: vectors stacked per parameter (their V). */
  vectors?: number;
  /** Rows of per-sample outputs when subsampling (the list's length); default N. */
  rows?: number;
}

export interface NodeSize {
  /** The node as messages name it, e.g. "layers[2] (ZeroPad2d)". */
  where: string;
  outShape: number[];
  /** Bytes per sample of its output, kept for the backward pass. */
  activation: number;
  /** Bytes per sample of the backward work at this node (with its working copies). */
  work: number;
  /** Bytes per sample of the largest single tensor made here. */
  largest: number;
  /** Bytes a shard needs here whatever its size (an identity matrix, Kronecker factors). */
  fixed: number;
  /** What this node accounts for per sample: its kept activation (with copies) or its backward work. */
  need: number;
}

export interface OutputSize {
  /** A quantity name, or 'grad'. */
  quantity: string;
  /** Bytes of float32 result: one sample's rows (per-sample quantities), and the whole job's. */
  perSample: number;
  perJob: number;
  combines: 'sum' | 'rows';
}

export interface SizeEstimate {
  nodes: NodeSize[];
  /** Parameter bytes (float32 on every worker). */
  parameters: number;
  outputs: OutputSize[];
  /** A shard of n samples needs about `perShard + n · perSample` bytes. */
  perSample: number;
  perShard: number;
  /** The node that needs the most per sample (its kept activation or its backward work). */
  dominant: NodeSize;
}

type FactorKind = Exclude<Backprop, 'kfra'>;

export function estimateSizes(spec: ModelSpec, req: SizeRequest): SizeEstimate {
  const shapes = inferShapes(spec);
  const classes = numel(shapes[shapes.length - 1].outShape);
  const mc = req.mcSamples ?? 1;
  const needs = new Set(req.extensions.flatMap((q) => QUANTITIES[q].backprops));
  // Stacked factor columns at each node's output, walking back from the loss: the exact factor
  // has C columns, MC has M, the Hessian C plus 2·numel(in) for each nonlinear layer downstream.
  const exact = needs.has('sqrtExact') ? classes : 0;
  const sampled = needs.has('sqrtMC') ? mc : 0;
  let hessian = needs.has('hessian') ? classes : 0;
  const stackedOut = new Array<number>(shapes.length);
  const stackedIn = new Array<number>(shapes.length);
  for (let k = shapes.length - 1; k >= 0; k--) {
    const { node } = shapes[k];
    stackedOut[k] = exact + sampled + hessian;
    if (needs.has('hessian') && node.kind === 'layer' && hasHessianResidual(node.layer.type)) hessian += 2 * numel(shapes[k].inShapes[0]);
    stackedIn[k] = exact + sampled + hessian;
  }
  const nodes: NodeSize[] = [];
  let parameters = 0;
  const perParam: { theta: number[] }[] = [];
  let kfraFixed = 0;
  shapes.forEach(({ node, inShapes, outShape, setup }, k) => {
    const out = numel(outShape);
    const inn = inShapes.reduce((a, s) => a + numel(s), 0);
    const vOut = stackedOut[k];
    const vIn = stackedIn[k];
    const geom = (setup?.cfg as { geom?: { kernel: number[]; outSize: number[] } } | null | undefined)?.geom;
    const unfolded = geom ? Math.max(inShapes[0][0], outShape[0]) * numel(geom.kernel) * numel(geom.outSize) : 0;
    let paramWork = 0;
    let paramLargest = 0;
    const columns: Record<FactorKind, number> = { sqrtExact: exact, sqrtMC: sampled, hessian: needs.has('hessian') ? vOut - exact - sampled : 0 };
    for (const [name, theta] of Object.entries(setup?.params ?? {})) {
      if (!theta) continue;
      const n = numel(theta);
      parameters += F32 * n;
      perParam.push({ theta });
      const plainLinearWeight = node.kind === 'layer' && node.layer.type === 'Linear' && name === 'weight' && inShapes[0].length === 1;
      // Each factor's J_θᵀS is made once per parameter (memoised) and shared by the quantities.
      const made = new Map<FactorKind | 'grad', number>();
      for (const q of req.extensions) {
        const w = QUANTITIES[q].work;
        if (!w) continue;
        if ('grad' in w) made.set('grad', n);
        else if (w.always || !plainLinearWeight) made.set(w.factor, columns[w.factor] * n);
        else made.set(w.factor, Math.max(made.get(w.factor) ?? 0, n + columns[w.factor] * theta[0]));
      }
      for (const m of made.values()) {
        paramWork += m;
        paramLargest = Math.max(paramLargest, m);
      }
    }
    const tensors = [out, inn, vOut * out, vIn * inn, unfolded * Math.max(1, vOut), paramLargest];
    const residual = needs.has('hessian') && node.kind === 'layer' && hasHessianResidual(node.layer.type);
    // KFRA keeps a batch-averaged [D, D] matrix at every layer output (float64).
    if (needs.has('kfra')) kfraFixed = Math.max(kfraFixed, F64 * out * out);
    nodes.push({
      where: node.where,
      outShape,
      activation: F32 * out,
      work: F32 * (WORK_COPIES * (vOut * out + vIn * inn + paramWork + unfolded * vOut) + UNFOLD_COPIES * unfolded),
      largest: F32 * Math.max(...tensors),
      // The residual's identity matrix eye(D), D = numel(in).
      fixed: residual ? F32 * inn * inn : 0,
      need: 0,
    });
    const last = nodes[nodes.length - 1];
    last.need = Math.max(ACTIVATION_COPIES * last.activation, last.work);
  });
  const sizes = { classes, mc, vectors: req.vectors ?? 0 };
  const rows = req.rows ?? req.N;
  const outputs: OutputSize[] = [{ quantity: 'grad', perSample: 0, perJob: parameters, combines: 'sum' }];
  for (const q of req.extensions) {
    const elements = perParam.reduce((a, p) => a + QUANTITIES[q].outputElements(p.theta, sizes), 0);
    const combines = QUANTITIES[q].combines === 'rows' ? 'rows' : 'sum';
    outputs.push(combines === 'rows'
      ? { quantity: q, perSample: F32 * elements, perJob: F32 * elements * rows, combines }
      : { quantity: q, perSample: 0, perJob: F32 * elements, combines });
  }
  const sumBytes = outputs.filter((o) => o.combines === 'sum').reduce((a, o) => a + o.perJob, 0);
  const rowBytesPerSample = outputs.reduce((a, o) => a + o.perSample, 0);
  const activations = F32 * numel(spec.input_shape) + nodes.reduce((a, n) => a + n.activation, 0);
  const heaviest = nodes.reduce((a, n) => (n.work > a.work ? n : a), nodes[0]);
  const dominant = nodes.reduce((a, n) => (n.need > a.need ? n : a), nodes[0]);
  return {
    nodes,
    parameters,
    outputs,
    // A shard keeps every activation, works on one node at a time, and returns its rows.
    perSample: ACTIVATION_COPIES * activations + heaviest.work + rowBytesPerSample,
    // Parameters and what is derived from them, the shard's float64 sums, identity matrices, KFRA.
    perShard: SHARD_OVERHEAD + 2 * parameters + 2 * sumBytes + Math.max(0, ...nodes.map((n) => n.fixed)) + kfraFixed,
    dominant,
  };
}

/** Bytes a shard of `n` samples needs. */
export const shardBytes = (e: SizeEstimate, n: number): number => e.perShard + n * e.perSample;
