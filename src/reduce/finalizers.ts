/**
 * How merged partials become BackPACK's results: the building blocks each quantity's record names
 * as its `finalize` (src/extensions/<quantity>/index.ts) — a sum as it is, rows ordered by sample
 * (or by the subsampling list), a formula over merged statistics (moments), or a list (Kronecker
 * factors, written `<param>.<savefield>.<k>`). Knows no quantity by name.
 */
import { BackpackError, ErrorCode } from '../errors/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { takeFloat32 } from '../io/host-buffers.ts';
import { narrowInto } from '../io/host-loops.ts';
import type { ResultTensor, StreamedTensor } from '../io/result-tensor.ts';
import { GRAD_FIELD } from '../vocabulary.ts';
import { momentsParts } from './moments.ts';
import type { PartialEntry, Partials } from '../core/partials.ts';
import { SpilledRows } from './row-spill.ts';

export interface FinalizeOptions {
  /** Global batch size. */
  N: number;
  paramNames: string[];
  /** The quantities requested (their records' names). */
  extensions: readonly string[];
  /** Global sample indices whose per-sample rows are reported, in this order (default: all). */
  subsampling?: number[];
  /** The loss reduction: how the ρ-scaled per-sample gradients relate to per-sample losses. */
  reduction: 'mean' | 'sum';
  /** --skip-unsupported: (layer, quantity) pairs with no result (extensions/support.ts's skipKey). */
  skip?: readonly string[];
}

/** Results of one quantity at one parameter: [key suffix after `<param>.`, tensor]. */
export type Finalizer = (param: string, merged: Partials, opts: FinalizeOptions) => [string, ResultTensor][];
type SumEntry = Extract<PartialEntry, { kind: 'sum' }>;
type RowsEntry = Extract<PartialEntry, { kind: 'rows' | 'spilled' }>;

function entry<K extends PartialEntry['kind']>(merged: Partials, key: string, kind: K): Extract<PartialEntry, { kind: K }> {
  const e = merged.entries[key];
  if (!e || e.kind !== kind) throw new BackpackError(ErrorCode.Internal, `missing ${kind} partial '${key}'`, false);
  return e as Extract<PartialEntry, { kind: K }>;
}

function asFloat32(e: Pick<SumEntry, 'data' | 'shape'>, scale = 1): HostTensor {
  const data = takeFloat32(e.data.length);
  narrowInto(data, e.data, scale);
  return { dtype: 'float32', shape: e.shape, data };
}

const rowOrder = (opts: FinalizeOptions) => opts.subsampling ?? Array.from({ length: opts.N }, (_, i) => i);
const missing = (key: string, sample: number) => new BackpackError(ErrorCode.Internal, `no shard returned sample ${sample} for '${key}'`, false);

/**
 * Spilled rows read back piece by piece: for each [start, length] part of a row, that part of
 * every sample's row in `order` (one part = whole rows; V parts = the [v, n, *θ] layout).
 */
function streamedRows(e: Extract<RowsEntry, { kind: 'spilled' }>, key: string, shape: number[], parts: [number, number][], order: number[]): StreamedTensor {
  return {
    dtype: 'float32',
    shape,
    *chunks() {
      const rows = new SpilledRows(e);
      // NOTE: one buffer for every row: each chunk is consumed (written) before the next is read.
      let scratch: Float32Array | undefined;
      try {
        for (const [start, length] of parts) {
          for (const sample of order) {
            if (!rows.has(sample)) throw missing(key, sample);
            scratch = rows.read(sample, start, length, scratch);
            yield scratch;
          }
        }
      } finally {
        rows.close();
      }
    },
  };
}

/** Rows in the order of `subsampling` (duplicates allowed, as in BackPACK), else by sample index. */
function orderedRows(e: RowsEntry, key: string, opts: FinalizeOptions): ResultTensor {
  const order = rowOrder(opts);
  const shape = [order.length, ...e.rowShape];
  const width = e.rowShape.reduce((a, b) => a * b, 1);
  if (e.kind === 'spilled') return streamedRows(e, key, shape, [[0, width]], order);
  // Already in the requested order (the usual case: every sample, shards in order): no copy.
  if (order.length === e.index.length && order.every((sample, j) => e.index[j] === sample)) return { dtype: 'float32', shape, data: e.data };
  const position = new Map<number, number>();
  e.index.forEach((sample, row) => position.set(sample, row));
  const data = new Float32Array(order.length * width);
  order.forEach((sample, j) => {
    const row = position.get(sample);
    if (row === undefined) throw missing(key, sample);
    data.set(e.data.subarray(row * width, (row + 1) * width), j * width);
  });
  return { dtype: 'float32', shape, data };
}

/** Rows [n, v, *θ] reported as [v, n, *θ]: square-root factors are stored by sample, reported by vector. */
function swappedRows(e: RowsEntry, key: string, opts: FinalizeOptions): ResultTensor {
  const order = rowOrder(opts);
  const [v, ...rest] = e.rowShape;
  const width = rest.reduce((a, b) => a * b, 1);
  const shape = [v, order.length, ...rest];
  if (e.kind === 'spilled') return streamedRows(e, key, shape, Array.from({ length: v }, (_, j) => [j * width, width]), order);
  const src = (orderedRows(e, key, opts) as HostTensor).data as Float32Array;
  const n = order.length;
  const data = new Float32Array(src.length);
  for (let i = 0; i < n; i++) for (let j = 0; j < v; j++) data.set(src.subarray((i * v + j) * width, (i * v + j + 1) * width), (j * n + i) * width);
  return { dtype: 'float32', shape, data };
}

function rowsEntry(merged: Partials, key: string): RowsEntry {
  const e = merged.entries[key];
  if (!e || (e.kind !== 'rows' && e.kind !== 'spilled')) throw new BackpackError(ErrorCode.Internal, `missing rows partial '${key}'`, false);
  return e;
}

export const fromSum = (field: string): Finalizer => (param, merged) => [[field, asFloat32(entry(merged, `${param}.${field}`, 'sum'))]];

export const fromRows = (field: string): Finalizer => (param, merged, opts) => [[field, orderedRows(rowsEntry(merged, `${param}.${field}`), `${param}.${field}`, opts)]];

export const fromSqrtRows = (field: string): Finalizer => (param, merged, opts) => [[field, swappedRows(rowsEntry(merged, `${param}.${field}`), `${param}.${field}`, opts)]];

/** The merged moments of a parameter's per-sample gradients, over all N samples. */
function momentsOf(merged: Partials, param: string, field: string, opts: FinalizeOptions): { mean: Float64Array; m2: Float64Array } {
  const e = entry(merged, `${param}.${field}`, 'moments');
  if (e.count !== opts.N) throw new BackpackError(ErrorCode.Internal, `moments of '${param}' cover ${e.count} of ${opts.N} samples`, false);
  return momentsParts(e);
}

/**
 * (1/N) Σ_n (g_n − mean)² = (1/N) Σ g_n² − ((1/N) Σ g_n)², from the centred moments in the partial
 * `moments` (no cancellation), reported as `field`.
 */
export const varianceOf = (field: string, moments: string): Finalizer => (param, merged, opts) => {
  const e = entry(merged, `${param}.${moments}`, 'moments');
  const { m2 } = momentsOf(merged, param, moments, opts);
  return [[field, asFloat32({ data: m2, shape: e.shape }, 1 / opts.N)]];
};

/** [B] for biases, [B, A] for weights with A = (1/N) Σ x xᵀ. */
export const kronecker = (field: string): Finalizer => (param, merged, opts) => {
  const out: [string, HostTensor][] = [[`${field}.0`, asFloat32(entry(merged, `${param}.${field}.0`, 'sum'))]];
  const A = merged.entries[`${param}.${field}.A`];
  if (A?.kind === 'sum') out.push([`${field}.1`, asFloat32(A, 1 / opts.N)]);
  return out;
};

/** Results of a quantity of the whole network rather than of one parameter. */
export type NetworkFinalizer = (merged: Partials, opts: FinalizeOptions) => [string, HostTensor][];

/** A quantity whose results are all network-level. */
export const noParamResults: Finalizer = () => [];

const scalar = (v: number): HostTensor => ({ dtype: 'float32', shape: [], data: Float32Array.of(v) });

/**
 * McCandlish et al. 2018, appendix A.1: with u_n the per-sample gradients (mean reduction: N·g_n,
 * sum: g_n), G_B = mean u_n and S = mean |u_n|², the unbiased estimates for B_small = 1, B_big = N
 * are |G|² ≈ (N|G_B|² − S)/(N − 1) and tr Σ ≈ N(S − |G_B|²)/(N − 1); B_simple = tr Σ / |G|².
 * With u_n = s·g_n and A = Σ_params Σ_n |g_n − mean|² (the merged M2), S − |G_B|² = s²A/N, so
 * tr Σ = s²A/(N − 1) and |G|² = s²(|Σ g|²/N² − A/(N(N − 1))): no difference of large sums.
 */
export const noiseScale = (field: string, moments: string): NetworkFinalizer => (merged, opts) => {
  const N = opts.N;
  let gradSq = 0;
  let A = 0;
  for (const param of opts.paramNames) {
    for (const v of entry(merged, `${param}.${GRAD_FIELD}`, 'sum').data) gradSq += v * v;
    for (const v of momentsOf(merged, param, moments, opts).m2) A += v;
  }
  const s2 = opts.reduction === 'mean' ? N * N : 1;
  const traceCov = (s2 * A) / (N - 1);
  const trueGradSq = s2 * (gradSq / (N * N) - A / (N * (N - 1)));
  return [
    [field, scalar(N > 1 ? traceCov / trueGradSq : NaN)],
    [`${field}.trace_cov`, scalar(traceCov)],
    [`${field}.grad_norm_sq`, scalar(trueGradSq)],
  ];
};
