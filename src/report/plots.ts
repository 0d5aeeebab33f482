/**
 * Which plots a report has: each is drawn only when its data exists; otherwise the page lists it
 * as missing, with the quantity that would provide it. Per-layer plots compare the checkpoints of
 * a sweep side by side (one series each), label layers with their modules ("0 · Linear(20→16)"),
 * and show the conventional per-sample quantities (of the unscaled loss ℓ_n) where the results
 * carry their model and N; each caption says which convention its numbers are in.
 */
import { describeModules } from '../nn/describe-layer.ts';
import { DIAGONALS, gnsSeries, layerStats, lossScale, perSampleSnr, sampleNorms, type LayerStats } from './analyze.ts';
import type { ReportInput } from './load.ts';
import { barChart, histogram, lineChart, type Series } from './svg.ts';
import { spectrumPlots } from './spectrum-plots.ts';

export interface Plot {
  id: string;
  title: string;
  caption: string;
  svg: string;
}

export interface Missing {
  id: string;
  title: string;
  why: string;
}

export const PLOT_IDS = ['layer-variance', 'layer-snr', 'sample-grad-norms', 'diag-curvature', 'gns-checkpoints', 'spectral-density', 'top-eigenvalues'] as const;

/** A compared set's per-layer numbers with what converts them: N and BackPACK's ρ (null: unknown). */
interface SetStats {
  name: string;
  N: number | null;
  rho: number | null;
  layers: LayerStats[];
}

/** "0 · Linear(20→16)" where the model is known, else "layer 0". */
export function layerLabels(input: ReportInput, layers: LayerStats[]): string[] {
  const modules = input.model ? describeModules(input.model) : {};
  return layers.map((l) => (modules[l.layer] ? `${l.layer} · ${modules[l.layer]}` : `layer ${l.layer}`));
}

export function buildPlots(input: ReportInput): { plots: Plot[]; missing: Missing[]; layers: LayerStats[]; labels: string[] } {
  const plots: Plot[] = [];
  const missing: Missing[] = [];
  const t = input.tensors;
  const layers = t ? layerStats(t) : [];
  const labels = layerLabels(input, layers);
  const sets: SetStats[] = input.sets.map((s) => ({ name: s.name, N: s.N, rho: lossScale(input.model, s.N), layers: layerStats(s.tensors) }));
  const compared = sets.length > 1 ? ` The ${sets.length} checkpoints of the sweep at this batch size and dataset are side by side.` : '';
  /** One series per compared set, the layers in the chosen set's order. */
  const perSet = (value: (l: LayerStats, s: SetStats) => number | null | undefined): Series[] =>
    sets.map((s) => ({ name: s.name, values: layers.map((l) => value(s.layers.find((m) => m.layer === l.layer) ?? l, s) ?? null) }));
  const noTensors = `no result tensors to read (${input.tensorsFrom})`;

  const variance = layers.length > 0 && sets.every((s) => s.layers.every((l) => l.varianceSum !== undefined));
  const vTitle = 'Gradient variance per layer';
  const sTitle = 'Signal-to-noise ratio per layer';
  if (variance) {
    const conventional = sets.every((s) => s.rho !== null);
    plots.push({
      id: 'layer-variance', title: vTitle,
      caption: (conventional
        ? 'tr Cov(∇ℓ_n) over each layer\'s parameters: the variance of the per-sample gradients of the unscaled loss ℓ_n (covariance with 1/N), i.e. Σ of BackPACK\'s `variance` ÷ ρ².'
        : 'Σ of BackPACK\'s `variance` over each layer\'s parameters, in its ρ-scaled convention (per-sample gradients of ρ·ℓ_n; these results do not record their model, so ρ is unknown).') + compared,
      svg: barChart({ id: 'layer-variance', title: vTitle, xLabel: 'layer', yLabel: conventional ? 'tr Cov(∇ℓ_n)' : 'Σ variance (ρ-scaled)', legend: sets.length > 1 }, labels,
        perSet((l, s) => (l.varianceSum === undefined ? null : conventional ? l.varianceSum / (s.rho! * s.rho!) : l.varianceSum))),
    });
    const perSample = sets.every((s) => s.N !== null);
    plots.push({
      id: 'layer-snr', title: sTitle,
      caption: (perSample
        ? 'Per-sample SNR ‖E ∇ℓ_n‖² / tr Cov(∇ℓ_n) of each layer, ∇ℓ_n the gradient of one sample\'s unscaled loss (from BackPACK\'s results: ‖grad‖² / (N²·Σ variance), the same in every loss convention). The SNR of a mini-batch gradient of B samples is B times this.'
        : '‖grad‖² / Σ variance per layer: N² times the per-sample SNR ‖E ∇ℓ_n‖² / tr Cov(∇ℓ_n) (N is not recorded with these results).') + compared,
      svg: barChart({ id: 'layer-snr', title: sTitle, xLabel: 'layer', yLabel: perSample ? 'per-sample SNR' : '‖grad‖² / Σ variance (N² × SNR)', legend: sets.length > 1 }, labels,
        perSet((l, s) => (perSample ? perSampleSnr(l, s.N!) : l.snr))),
    });
  } else {
    const why = t ? 'no `<param>.variance` tensors: request Variance' : noTensors;
    missing.push({ id: 'layer-variance', title: vTitle, why }, { id: 'layer-snr', title: sTitle, why });
  }

  const norms = t ? sampleNorms(t) : null;
  const chosen = input.sets.find((s) => s.tensors === t);
  const rho = chosen ? lossScale(input.model, chosen.N) : null;
  const hTitle = 'Per-sample gradient norms';
  if (norms && norms.norms.length > 0) {
    const values = rho === null ? norms.norms : norms.norms.map((v) => v / rho);
    plots.push({
      id: 'sample-grad-norms', title: hTitle,
      caption: rho === null
        ? `Histogram of ‖∇(ρ·ℓ_n)‖ over the ${values.length} samples (from ${norms.from}), in BackPACK's ρ-scaled convention (ρ unknown: the results do not record their model).`
        : `Histogram of ‖∇ℓ_n‖, the gradient norm of each sample's unscaled loss, over the ${values.length} samples (from ${norms.from}: BackPACK's ρ-scaled norms ÷ ρ, ρ = ${rho.toPrecision(3)}).`,
      svg: histogram({ id: 'sample-grad-norms', title: hTitle, xLabel: rho === null ? '‖∇(ρ·ℓ_n)‖' : '‖∇ℓ_n‖', yLabel: 'samples' }, values),
    });
  } else {
    missing.push({ id: 'sample-grad-norms', title: hTitle, why: t ? 'no per-sample gradients: request BatchL2Grad (or BatchGrad)' : noTensors });
  }

  const diags = DIAGONALS.filter((d) => layers.some((l) => l.diag[d.field]));
  const dTitle = 'Diagonal curvature magnitude per layer';
  if (diags.length > 0) {
    const series = diags.flatMap((d) => sets.map((s) => ({
      name: sets.length > 1 ? `${s.name}: ${d.label}` : d.label,
      values: layers.map((l) => s.layers.find((m) => m.layer === l.layer)?.diag[d.field]?.meanAbs ?? null),
    })));
    plots.push({
      id: 'diag-curvature', title: dTitle,
      caption: `Mean |diagonal entry| over each layer's parameters, for ${diags.map((d) => d.label).join(', ')}: the curvature of the mini-batch loss as reduced (BackPACK's convention; for a mean, of (1/N)·Σ ℓ_n).${compared}`,
      svg: barChart({ id: 'diag-curvature', title: dTitle, xLabel: 'layer', yLabel: 'mean |diag|', legend: true }, labels, series),
    });
  } else {
    missing.push({ id: 'diag-curvature', title: dTitle, why: t ? 'no diagonal curvature: request DiagGGNExact, DiagGGNMC or DiagHessian' : noTensors });
  }

  const gTitle = 'Gradient noise scale across checkpoints';
  const series = input.kind === 'sweep' ? gnsSeries(input.rows, input.checkpoints) : [];
  if (series.some((s) => s.values.some((v) => v !== null))) {
    plots.push({
      id: 'gns-checkpoints', title: gTitle,
      caption: 'B_simple = tr Σ / |G|² (McCandlish et al. 2018) per checkpoint, for each dataset and batch size of the sweep (independent of the loss scaling). A series that coincides with another is drawn dashed and says so in the legend.',
      svg: lineChart({ id: 'gns-checkpoints', title: gTitle, xLabel: 'checkpoint', yLabel: 'gradient noise scale' }, input.checkpoints, series),
    });
  } else {
    const why = input.kind === 'run'
      ? 'a run directory holds one checkpoint; pass a sweep directory'
      : 'no row holds a finite gradient noise scale: request GradientNoiseScale';
    missing.push({ id: 'gns-checkpoints', title: gTitle, why });
  }
  spectrumPlots(input, plots, missing);
  return { plots, missing, layers, labels };
}
