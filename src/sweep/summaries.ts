/**
 * Scalar summaries of one result (one batch, or one accumulated pass): a sweep row. Only the
 * summaries whose quantities were requested appear. Sums run in float64 in parameter order, so a
 * row is a deterministic function of the result tensors.
 *
 * Scaling is BackPACK's throughout (see docs/conventions.md): per-sample gradients are those of
 * ρ·ℓ_n, so `variance_trace` and the per-sample norms depend on N as BackPACK's do; the gradient
 * noise scale is scale-free.
 */
import type { HostTensor } from '../io/host-tensor.ts';
import { GRAD_FIELD, SAVEFIELDS, type ExtensionName } from '../vocabulary.ts';

/** One of the largest-magnitude diagonal entries: the parameter, its multi-index, its value. */
export interface TopEntry {
  param: string;
  index: number[];
  value: number;
}

export interface RowSummary {
  loss: number;
  /** ‖Σ_n ∇(ρℓ_n)‖ over all parameters: the norm of the batch gradient. */
  grad_norm: number;
  variance_trace?: number;
  sum_grad_squared_trace?: number;
  /** Quantiles of the per-sample gradient norms √(Σ_params batch_l2). */
  sample_grad_norm_p10?: number;
  sample_grad_norm_p50?: number;
  sample_grad_norm_p90?: number;
  gns?: number | null;
  gns_trace_cov?: number;
  gns_grad_norm_sq?: number;
  ggn_trace_exact?: number;
  ggn_trace_mc?: number;
  hessian_trace?: number;
  topk_diag_ggn_exact?: TopEntry[];
  topk_diag_ggn_mc?: TopEntry[];
  topk_diag_h?: TopEntry[];
}

function total(results: Map<string, HostTensor>, params: string[], field: string, f: (v: number) => number = (v) => v): number {
  let s = 0;
  for (const p of params) {
    const t = results.get(`${p}.${field}`);
    if (!t) continue;
    const d = t.data as Float32Array;
    for (let j = 0; j < d.length; j++) s += f(d[j]);
  }
  return s;
}

/** numpy's default ('linear') quantile of sorted values. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** √(Σ_params batch_l2[n]) for every sample n; null when BatchL2Grad was not computed. */
export function sampleGradNorms(results: Map<string, HostTensor>, params: string[]): Float64Array | null {
  let sums: Float64Array | null = null;
  for (const p of params) {
    const t = results.get(`${p}.${SAVEFIELDS.BatchL2Grad}`);
    if (!t) continue;
    sums ??= new Float64Array(t.shape[0]);
    const d = t.data as Float32Array;
    for (let n = 0; n < sums.length; n++) sums[n] += d[n];
  }
  return sums && sums.map(Math.sqrt);
}

function unravel(flat: number, shape: number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    index[a] = flat % shape[a];
    flat = Math.floor(flat / shape[a]);
  }
  return index;
}

/** The k entries of largest |value| over all parameters; ties keep parameter and flat-index order. */
export function topK(results: Map<string, HostTensor>, params: string[], field: string, k: number): TopEntry[] {
  const best: { param: string; flat: number; value: number; shape: number[] }[] = [];
  for (const param of params) {
    const t = results.get(`${param}.${field}`);
    if (!t) continue;
    const d = t.data as Float32Array;
    for (let j = 0; j < d.length; j++) {
      const mag = Math.abs(d[j]);
      if (best.length === k && !(mag > Math.abs(best[k - 1].value))) continue;
      let at = best.length;
      while (at > 0 && mag > Math.abs(best[at - 1].value)) at--;
      best.splice(at, 0, { param, flat: j, value: d[j], shape: t.shape });
      if (best.length > k) best.pop();
    }
  }
  return best.map((b) => ({ param: b.param, index: unravel(b.flat, b.shape), value: b.value }));
}

export function summarize(results: Map<string, HostTensor>, loss: number, params: string[], quantities: ExtensionName[], k: number): RowSummary {
  const has = (q: ExtensionName) => quantities.includes(q);
  const row: RowSummary = { loss, grad_norm: Math.sqrt(total(results, params, GRAD_FIELD, (v) => v * v)) };
  if (has('Variance')) row.variance_trace = total(results, params, SAVEFIELDS.Variance);
  if (has('SumGradSquared')) row.sum_grad_squared_trace = total(results, params, SAVEFIELDS.SumGradSquared);
  const norms = has('BatchL2Grad') ? sampleGradNorms(results, params) : null;
  if (norms) {
    const sorted = Float64Array.from(norms).sort();
    row.sample_grad_norm_p10 = quantile(sorted, 0.1);
    row.sample_grad_norm_p50 = quantile(sorted, 0.5);
    row.sample_grad_norm_p90 = quantile(sorted, 0.9);
  }
  if (has('GradientNoiseScale')) {
    const field = SAVEFIELDS.GradientNoiseScale;
    const scalar = (key: string) => results.get(key)!.data[0] as number;
    const gns = scalar(field);
    row.gns = Number.isFinite(gns) ? gns : null;
    row.gns_trace_cov = scalar(`${field}.trace_cov`);
    row.gns_grad_norm_sq = scalar(`${field}.grad_norm_sq`);
  }
  const diagonals = [
    ['DiagGGNExact', 'ggn_trace_exact', 'topk_diag_ggn_exact'],
    ['DiagGGNMC', 'ggn_trace_mc', 'topk_diag_ggn_mc'],
    ['DiagHessian', 'hessian_trace', 'topk_diag_h'],
  ] as const;
  for (const [q, traceKey, topKey] of diagonals) {
    if (!has(q)) continue;
    row[traceKey] = total(results, params, SAVEFIELDS[q]);
    if (k > 0) row[topKey] = topK(results, params, SAVEFIELDS[q], k);
  }
  return row;
}
