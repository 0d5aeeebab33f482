/**
 * The report's spectrum plots: the smoothed spectral density of each checkpoint (SLQ, one curve
 * each) and the largest eigenvalues across checkpoints (Lanczos, one line per rank). Drawn when
 * spectra exist; otherwise listed as missing with what provides them.
 */
import type { ReportInput } from './load.ts';
import type { Missing, Plot } from './plots.ts';
import { curveChart, lineChart } from './svg.ts';

const HOW = 'no spectra: add a "spectrum" section to SWEEP.json, or run `backpack-ts spectrum --out DIR/spectra/<checkpoint>` for each checkpoint';

export function spectrumPlots(input: ReportInput, plots: Plot[], missing: Missing[]): void {
  const withDensity = input.spectra.filter((s) => s.density !== null);
  const curvature = input.spectra[0]?.curvature === 'hessian' ? 'Hessian' : 'GGN';
  const dTitle = `Spectral density of the ${curvature}`;
  if (withDensity.length > 0) {
    plots.push({
      id: 'spectral-density', title: dTitle,
      caption: 'Stochastic Lanczos quadrature over the data set (docs/spectrum.md): each checkpoint\'s nodes smoothed by Gaussians; the curves integrate to 1.',
      svg: curveChart({ id: 'spectral-density', title: dTitle, xLabel: 'eigenvalue', yLabel: 'density', legend: true }, withDensity.map((s) => ({ name: s.checkpoint, x: s.density!.grid, y: s.density!.density }))),
    });
  } else {
    missing.push({ id: 'spectral-density', title: dTitle, why: input.spectra.length > 0 ? 'the spectra hold no density: ask for one (--density, or "probes" in the sweep\'s "spectrum")' : HOW });
  }
  const withTop = input.spectra.filter((s) => s.top.length > 0);
  const tTitle = `Largest eigenvalues of the ${curvature} across checkpoints`;
  if (withTop.length > 0) {
    const k = Math.max(...withTop.map((s) => s.top.length));
    plots.push({
      id: 'top-eigenvalues', title: tTitle,
      caption: `λ₁ … λ${k} (Lanczos with full reorthogonalisation over the data set) at each checkpoint.`,
      svg: lineChart({ id: 'top-eigenvalues', title: tTitle, xLabel: 'checkpoint', yLabel: 'eigenvalue', legend: true }, withTop.map((s) => s.checkpoint),
        Array.from({ length: k }, (_, i) => ({ name: `λ${i + 1}`, values: withTop.map((s) => s.top[i] ?? null) }))),
    });
  } else {
    missing.push({ id: 'top-eigenvalues', title: tTitle, why: input.spectra.length > 0 ? 'the spectra hold no eigenvalues: ask for --top-k > 0' : HOW });
  }
}
