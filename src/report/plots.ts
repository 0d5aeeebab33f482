/**
 * Which plots a report has: each is drawn only when its data exists; otherwise the page lists it
 * as missing, with the quantity that would provide it.
 */
import { DIAGONALS, gnsSeries, layerStats, sampleNorms } from './analyze.ts';
import type { ReportInput } from './load.ts';
import { barChart, histogram, lineChart } from './svg.ts';
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

export function buildPlots(input: ReportInput): { plots: Plot[]; missing: Missing[]; layers: ReturnType<typeof layerStats> } {
  const plots: Plot[] = [];
  const missing: Missing[] = [];
  const t = input.tensors;
  const layers = t ? layerStats(t) : [];
  const names = layers.map((l) => `layer ${l.layer}`);
  const noTensors = `no result tensors to read (${input.tensorsFrom})`;

  const variance = layers.every((l) => l.varianceSum !== undefined) && layers.length > 0;
  const vTitle = 'Gradient variance per layer';
  const sTitle = 'Signal-to-noise ratio per layer';
  if (variance) {
    plots.push({
      id: 'layer-variance', title: vTitle,
      caption: 'Σ of BackPACK\'s `variance` (of the ρ-scaled per-sample gradients) over each layer\'s parameters.',
      svg: barChart({ id: 'layer-variance', title: vTitle, xLabel: 'layer', yLabel: 'Σ variance' }, names, [{ name: 'variance', values: layers.map((l) => l.varianceSum ?? null) }]),
    });
    plots.push({
      id: 'layer-snr', title: sTitle,
      caption: '‖grad‖² / Σ variance per layer. In every loss convention this equals N²·‖mean ∇ℓ_n‖² / tr Cov(∇ℓ_n); divide by N for the SNR of the size-N mini-batch gradient.',
      svg: barChart({ id: 'layer-snr', title: sTitle, xLabel: 'layer', yLabel: '‖grad‖² / Σ variance' }, names, [{ name: 'SNR', values: layers.map((l) => l.snr ?? null) }]),
    });
  } else {
    const why = t ? 'no `<param>.variance` tensors: request Variance' : noTensors;
    missing.push({ id: 'layer-variance', title: vTitle, why }, { id: 'layer-snr', title: sTitle, why });
  }

  const norms = t ? sampleNorms(t) : null;
  const hTitle = 'Per-sample gradient norms';
  if (norms && norms.norms.length > 0) {
    plots.push({
      id: 'sample-grad-norms', title: hTitle,
      caption: `Histogram of √(Σ_params ‖∇(ρ·ℓ_n)‖²) over the ${norms.norms.length} samples (from ${norms.from}; BackPACK's ρ-scaled convention).`,
      svg: histogram({ id: 'sample-grad-norms', title: hTitle, xLabel: 'per-sample gradient norm', yLabel: 'samples' }, norms.norms),
    });
  } else {
    missing.push({ id: 'sample-grad-norms', title: hTitle, why: t ? 'no per-sample gradients: request BatchL2Grad (or BatchGrad)' : noTensors });
  }

  const diags = DIAGONALS.filter((d) => layers.some((l) => l.diag[d.field]));
  const dTitle = 'Diagonal curvature magnitude per layer';
  if (diags.length > 0) {
    plots.push({
      id: 'diag-curvature', title: dTitle,
      caption: `Mean |diagonal entry| over each layer's parameters, for ${diags.map((d) => d.label).join(', ')}.`,
      svg: barChart({ id: 'diag-curvature', title: dTitle, xLabel: 'layer', yLabel: 'mean |diag|', legend: true }, names, diags.map((d) => ({ name: d.label, values: layers.map((l) => l.diag[d.field]?.meanAbs ?? null) }))),
    });
  } else {
    missing.push({ id: 'diag-curvature', title: dTitle, why: t ? 'no diagonal curvature: request DiagGGNExact, DiagGGNMC or DiagHessian' : noTensors });
  }

  const gTitle = 'Gradient noise scale across checkpoints';
  const series = input.kind === 'sweep' ? gnsSeries(input.rows, input.checkpoints) : [];
  if (series.some((s) => s.values.some((v) => v !== null))) {
    plots.push({
      id: 'gns-checkpoints', title: gTitle,
      caption: 'B_simple = tr Σ / |G|² (McCandlish et al. 2018) per checkpoint, for each dataset and batch size of the sweep.',
      svg: lineChart({ id: 'gns-checkpoints', title: gTitle, xLabel: 'checkpoint', yLabel: 'gradient noise scale' }, input.checkpoints, series),
    });
  } else {
    const why = input.kind === 'run'
      ? 'a run directory holds one checkpoint; pass a sweep directory'
      : 'no row holds a finite gradient noise scale: request GradientNoiseScale';
    missing.push({ id: 'gns-checkpoints', title: gTitle, why });
  }
  spectrumPlots(input, plots, missing);
  return { plots, missing, layers };
}
