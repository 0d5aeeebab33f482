/**
 * What a spectrum run writes: spectrum.json (eigenvalues with residuals, the density, the trace
 * with its stated error, the cost in products) and, on request, the eigenvectors as safetensors
 * files keyed by parameter name with shape [k, *θ] — the layout `backpack-ts run --vectors`
 * takes, so GGNMP/HMP can be applied to them directly.
 */
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { encodeSafetensors } from '../io/safetensors.ts';
import type { Network } from '../nn/network.ts';
import { parameterLayout } from './curvature-operator.ts';
import type { RitzPair } from './eigenvalues.ts';
import type { SpectrumResults } from './run-spectrum.ts';

export const SPECTRUM_FILE = 'spectrum.json';
/** In a sweep's output directory: spectra/<checkpoint>/spectrum.json (src/sweep/spectra.ts; read by `report`). */
export const SPECTRA_DIR = 'spectra';
export const EIGENVECTOR_FILES = { top: 'eigenvectors-top.safetensors', bottom: 'eigenvectors-bottom.safetensors' } as const;

const pairs = (ps: RitzPair[]) => ps.map((p) => ({ value: p.value, residual: p.residual }));

/** The results as plain JSON (eigenvectors left out: they go to their own files). */
export function spectrumJson(r: SpectrumResults): Record<string, unknown> {
  const out: Record<string, unknown> = { dimension: r.dimension, seed: r.seed, products: r.products };
  if (r.eigen) {
    const e = r.eigen;
    out.eigenvalues = { top: pairs(e.top), bottom: pairs(e.bottom), iterations: e.iterations, converged: e.converged, ended: e.ended, products: e.products };
  }
  if (r.density) {
    const d = r.density;
    out.density = { steps: d.steps, sigma: d.sigma, products: d.products, nodes: d.nodes, weights: d.weights, grid: d.grid, density: d.density, probes: d.probes };
  }
  if (r.trace) {
    const t = r.trace;
    out.trace = {
      method: t.method, estimate: t.estimate, stdError: t.stdError, errorBound: t.errorBound, exact: t.exact, products: t.products,
      ...(t.sketchRank !== undefined ? { sketchRank: t.sketchRank } : {}),
      errorStatement: t.exact ? 'exact: computed from the n unit vectors' : '|estimate − trace| ≤ errorBound (3 standard errors) with probability ≥ 8/9 (Chebyshev)',
    };
  }
  return out;
}

/** Ritz vectors (flat, float64) as one [k, *θ] tensor per parameter. */
export function eigenvectorTensors(net: Network, ps: RitzPair[]): Map<string, HostTensor> {
  const k = ps.length;
  return new Map(parameterLayout(net).map((p) => {
    const data = new Float64Array(k * p.size);
    ps.forEach((pair, i) => data.set(pair.vector!.subarray(p.offset, p.offset + p.size), i * p.size));
    return [p.name, { dtype: 'float64', shape: [k, ...p.shape], data } as HostTensor];
  }));
}

/** Writes spectrum.json (with `extra` fields first) and, if the pairs carry vectors, the eigenvector files. Returns the files written. */
export async function writeSpectrum(dir: string, net: Network, r: SpectrumResults, extra: Record<string, unknown>): Promise<string[]> {
  const files: string[] = [];
  for (const side of ['top', 'bottom'] as const) {
    const ps = r.eigen?.[side] ?? [];
    if (ps.length === 0 || !ps[0].vector) continue;
    const metadata = { format: 'backpack-ts spectrum', eigenvalues: JSON.stringify(ps.map((p) => p.value)) };
    const file = path.join(dir, EIGENVECTOR_FILES[side]);
    await writeFileAtomic(file, encodeSafetensors(eigenvectorTensors(net, ps), metadata));
    files.push(file);
  }
  const file = path.join(dir, SPECTRUM_FILE);
  await writeFileAtomic(file, `${JSON.stringify({ ...extra, ...spectrumJson(r) }, null, 2)}\n`);
  files.push(file);
  return files;
}
