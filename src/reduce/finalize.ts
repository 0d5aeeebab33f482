/**
 * Turns merged partials into BackPACK's results, once, after all shards are merged.
 * Each quantity says how: a sum as it is, rows ordered by sample (or by the subsampling list),
 * or a formula over several sums (Variance). Output keys are `<param>.<savefield>`.
 */
import { BackpackError, ErrorCode } from '../errors/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { VARIANCE_SUMSQ } from '../extensions/variance/index.ts';
import { GRAD_FIELD, SAVEFIELDS, type ExtensionName } from '../vocabulary.ts';
import type { MergedPartials } from './merge.ts';
import type { PartialEntry } from './partials.ts';

export interface FinalizeOptions {
  /** Global batch size. */
  N: number;
  paramNames: string[];
  extensions: ExtensionName[];
  /** Global sample indices whose per-sample rows are reported, in this order (default: all). */
  subsampling?: number[];
}

type Finalizer = (param: string, merged: MergedPartials, opts: FinalizeOptions) => HostTensor;

function entry(merged: MergedPartials, key: string, kind: PartialEntry['kind']): PartialEntry {
  const e = merged.entries[key];
  if (!e || e.kind !== kind) throw new BackpackError(ErrorCode.Internal, `missing ${kind} partial '${key}'`, false);
  return e;
}

const sumOf = (merged: MergedPartials, key: string) => entry(merged, key, 'sum') as Extract<PartialEntry, { kind: 'sum' }>;

const fromSum = (field: string): Finalizer => (param, merged) => {
  const e = sumOf(merged, `${param}.${field}`);
  return { dtype: 'float32', shape: e.shape, data: Float32Array.from(e.data) };
};

/** Rows in the order of `subsampling` (duplicates allowed, as in BackPACK), else by sample index. */
const fromRows = (field: string): Finalizer => (param, merged, opts) => {
  const e = entry(merged, `${param}.${field}`, 'rows') as Extract<PartialEntry, { kind: 'rows' }>;
  const width = e.rowShape.reduce((a, b) => a * b, 1);
  const order = opts.subsampling ?? Array.from({ length: opts.N }, (_, i) => i);
  const position = new Map<number, number>();
  e.index.forEach((sample, row) => position.set(sample, row));
  const data = new Float32Array(order.length * width);
  order.forEach((sample, j) => {
    const row = position.get(sample);
    if (row === undefined) throw new BackpackError(ErrorCode.Internal, `no shard returned sample ${sample} for '${param}.${field}'`, false);
    data.set(e.data.subarray(row * width, (row + 1) * width), j * width);
  });
  return { dtype: 'float32', shape: [order.length, ...e.rowShape], data };
};

/** (1/N) Σ g_n² − ((1/N) Σ g_n)², in float64. */
const varianceOf: Finalizer = (param, merged, opts) => {
  const sum = sumOf(merged, `${param}.${GRAD_FIELD}`);
  const sumsq = sumOf(merged, `${param}.${VARIANCE_SUMSQ}`);
  const data = new Float32Array(sum.data.length);
  for (let j = 0; j < data.length; j++) {
    const mean = sum.data[j] / opts.N;
    data[j] = sumsq.data[j] / opts.N - mean * mean;
  }
  return { dtype: 'float32', shape: sum.shape, data };
};

export const FINALIZERS: Record<ExtensionName, Finalizer> = {
  BatchGrad: fromRows(SAVEFIELDS.BatchGrad),
  BatchL2Grad: fromRows(SAVEFIELDS.BatchL2Grad),
  SumGradSquared: fromSum(SAVEFIELDS.SumGradSquared),
  Variance: varianceOf,
};

/** All results: `<param>.grad` for every parameter, then each requested quantity. */
export function finalize(merged: MergedPartials, opts: FinalizeOptions): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const grad = fromSum(GRAD_FIELD);
  for (const param of opts.paramNames) {
    out.set(`${param}.${GRAD_FIELD}`, grad(param, merged, opts));
    for (const q of opts.extensions) out.set(`${param}.${SAVEFIELDS[q]}`, FINALIZERS[q](param, merged, opts));
  }
  return out;
}
