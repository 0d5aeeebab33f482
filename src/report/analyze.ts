/**
 * The numbers a report plots, from result tensors (BackPACK's keys `<param>.<savefield>`) and sweep
 * rows. Sums run in float64. A layer is a parameter's module: "0.weight" and "0.bias" → layer "0".
 */
import type { HostTensor } from '../io/host-tensor.ts';
import { LOSSES } from '../nn/losses/index.ts';
import { inferShapes } from '../nn/shapes.ts';
import type { ModelSpec } from '../nn/spec.ts';
import type { SweepRow } from '../sweep/compute.ts';
import { GRAD_FIELD, SAVEFIELDS } from '../vocabulary.ts';

export const DIAGONALS = [
  { field: SAVEFIELDS.DiagGGNExact, label: 'diag GGN (exact)' },
  { field: SAVEFIELDS.DiagGGNMC, label: 'diag GGN (MC)' },
  { field: SAVEFIELDS.DiagHessian, label: 'diag Hessian' },
] as const;

export interface LayerStats {
  layer: string;
  params: string[];
  /** ‖grad‖² over the layer's parameters. */
  gradSq: number;
  /** Σ variance over the layer's parameters (absent without Variance). */
  varianceSum?: number;
  /** gradSq / varianceSum: N² times the per-sample SNR (perSampleSnr gives that). */
  snr?: number;
  /** Mean and max |diag| over the layer's entries, per diagonal present. */
  diag: Record<string, { meanAbs: number; maxAbs: number }>;
}

/** Parameters with a gradient in the results, in nn.Sequential order (by layer index; within a layer, file order: weight, bias). */
export function paramNames(tensors: Map<string, HostTensor>): string[] {
  const suffix = `.${GRAD_FIELD}`;
  const names = [...tensors.keys()].filter((k) => k.endsWith(suffix)).map((k) => k.slice(0, -suffix.length));
  const order = (p: string) => Number(p.split('.')[0]);
  return names.sort((a, b) => order(a) - order(b)); // stable: keeps the file's order within a layer
}

const layerOf = (param: string) => param.replace(/\.[^.]+$/, '');

function fold(t: HostTensor | undefined, f: (acc: number, v: number) => number, init: number): number | undefined {
  if (!t) return undefined;
  let acc = init;
  const d = t.data as Float32Array;
  for (let j = 0; j < d.length; j++) acc = f(acc, d[j]);
  return acc;
}

export function layerStats(tensors: Map<string, HostTensor>): LayerStats[] {
  const layers = new Map<string, LayerStats>();
  const counts = new Map<string, Record<string, number>>();
  for (const p of paramNames(tensors)) {
    const name = layerOf(p);
    const s = layers.get(name) ?? { layer: name, params: [], gradSq: 0, diag: {} };
    layers.set(name, s);
    s.params.push(p);
    s.gradSq += fold(tensors.get(`${p}.${GRAD_FIELD}`), (a, v) => a + v * v, 0) ?? 0;
    const variance = fold(tensors.get(`${p}.${SAVEFIELDS.Variance}`), (a, v) => a + v, 0);
    if (variance !== undefined) s.varianceSum = (s.varianceSum ?? 0) + variance;
    for (const { field } of DIAGONALS) {
      const t = tensors.get(`${p}.${field}`);
      if (!t) continue;
      const d = (s.diag[field] ??= { meanAbs: 0, maxAbs: 0 });
      d.meanAbs += fold(t, (a, v) => a + Math.abs(v), 0)!; // a sum until divided below
      d.maxAbs = Math.max(d.maxAbs, fold(t, (a, v) => Math.max(a, Math.abs(v)), 0)!);
      const c = counts.get(name) ?? {};
      c[field] = (c[field] ?? 0) + t.data.length;
      counts.set(name, c);
    }
  }
  for (const s of layers.values()) {
    if (s.varianceSum !== undefined) s.snr = s.varianceSum > 0 ? s.gradSq / s.varianceSum : undefined;
    for (const [field, d] of Object.entries(s.diag)) d.meanAbs /= counts.get(s.layer)![field];
  }
  return [...layers.values()];
}

/**
 * Per-sample gradient norms √(Σ_params ‖∇(ρℓ_n)‖²): from BatchL2Grad's batch_l2, else from
 * BatchGrad's grad_batch rows. Null when neither was computed.
 */
export function sampleNorms(tensors: Map<string, HostTensor>): { norms: Float64Array; from: string } | null {
  const params = paramNames(tensors);
  for (const [field, from] of [[SAVEFIELDS.BatchL2Grad, 'BatchL2Grad'], [SAVEFIELDS.BatchGrad, 'BatchGrad']] as const) {
    const ts = params.map((p) => tensors.get(`${p}.${field}`)).filter((t): t is HostTensor => t !== undefined);
    if (ts.length === 0) continue;
    const N = ts[0].shape[0];
    const sq = new Float64Array(N);
    for (const t of ts) {
      const d = t.data as Float32Array;
      const width = d.length / N;
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let j = n * width; j < (n + 1) * width; j++) s += field === SAVEFIELDS.BatchL2Grad ? d[j] : d[j] * d[j];
        sq[n] += s;
      }
    }
    return { norms: sq.map(Math.sqrt), from };
  }
  return null;
}

export interface GnsSeries {
  name: string;
  /** One value per checkpoint (null: no value for that checkpoint). */
  values: (number | null)[];
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The gradient noise scale of each (dataset, batch size) across checkpoints: the accumulated
 * estimate (all samples of the pass) when the sweep has it, else the median over the batches.
 * Empty when no row holds a noise scale.
 */
export function gnsSeries(rows: SweepRow[], checkpoints: string[]): GnsSeries[] {
  const groups = new Map<string, { all: Map<number, number | null>; perBatch: Map<number, number[]> }>();
  for (const r of rows) {
    if (!('gns' in r)) continue;
    const key = `${r.dataset}, B=${r.batch_size}`;
    const g = groups.get(key) ?? { all: new Map(), perBatch: new Map() };
    groups.set(key, g);
    if (r.batch === 'all') g.all.set(r.checkpoint_index, r.gns ?? null);
    else if (r.gns !== null && r.gns !== undefined) g.perBatch.set(r.checkpoint_index, [...(g.perBatch.get(r.checkpoint_index) ?? []), r.gns]);
  }
  const series: GnsSeries[] = [];
  for (const [key, g] of groups) {
    if (g.all.size > 0) series.push({ name: `${key} (all samples)`, values: checkpoints.map((_, i) => g.all.get(i) ?? null) });
    if (g.perBatch.size > 0) series.push({ name: `${key} (median of batches)`, values: checkpoints.map((_, i) => median(g.perBatch.get(i) ?? [])) });
  }
  return series;
}

/**
 * BackPACK's ρ of these results (docs/conventions.md): its per-sample quantities are those of
 * ρ·ℓ_n, ρ = 1/N for a mean CrossEntropyLoss, 1/(N·D) for a mean MSE/BCE over D outputs, 1 for a
 * sum. Null when the model or N was not recorded with the results.
 */
export function lossScale(model: ModelSpec | null, N: number | null): number | null {
  if (!model || N === null || N < 1) return null;
  const shapes = inferShapes(model);
  return LOSSES[model.loss.type].rho(model.loss.reduction, N, shapes[shapes.length - 1].outShape);
}

/**
 * The conventional per-sample signal-to-noise ratio of a layer, ‖E g‖² / tr Cov g with g = ∇ℓ_n the
 * gradient of one sample's unscaled loss (Cov with 1/N, as BackPACK's variance). From BackPACK's
 * ρ-scaled results: ‖grad‖² = ρ²N²‖E g‖² and Σ variance = ρ² tr Cov g, so the ratio is
 * ‖grad‖² / (N² Σ variance), whatever ρ.
 */
export function perSampleSnr(l: LayerStats, N: number): number | undefined {
  return l.varianceSum !== undefined && l.varianceSum > 0 ? l.gradSq / (N * N * l.varianceSum) : undefined;
}
