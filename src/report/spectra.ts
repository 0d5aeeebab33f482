/**
 * Spectra a report draws: spectrum.json files (src/spectrum/output.ts) — one per checkpoint in a
 * sweep directory (spectra/<checkpoint>/spectrum.json, written by a sweep's "spectrum" section or by
 * `backpack-ts spectrum --out DIR/spectra/<checkpoint>`), or one at the top of a `spectrum` output.
 * Only the fields plotted are read, and they are checked.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { SPECTRA_DIR, SPECTRUM_FILE } from '../spectrum/output.ts';
import { ReportInputError } from './errors.ts';

export interface CheckpointSpectrum {
  checkpoint: string;
  curvature: string;
  /** Largest eigenvalues, descending (empty without Lanczos). */
  top: number[];
  /** The smoothed density on its grid (null without SLQ). */
  density: { grid: number[]; density: number[] } | null;
}

const spectrumSchema = z.looseObject({
  curvature: z.string().optional(),
  eigenvalues: z.looseObject({ top: z.array(z.looseObject({ value: z.number() })) }).optional(),
  density: z.looseObject({ grid: z.array(z.number()), density: z.array(z.number()) }).optional(),
});

export async function readSpectrum(file: string, checkpoint: string): Promise<CheckpointSpectrum> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ReportInputError(`${file}: not a readable spectrum.json (${(e as Error).message})`);
  }
  const r = spectrumSchema.safeParse(raw);
  if (!r.success || (r.data.density && r.data.density.grid.length !== r.data.density.density.length)) {
    throw new ReportInputError(`${file}: not a spectrum.json of \`backpack-ts spectrum\` (eigenvalues.top[].value, density.grid and density.density)`);
  }
  const s = r.data;
  return { checkpoint, curvature: s.curvature ?? 'ggn', top: s.eigenvalues?.top.map((p) => p.value) ?? [], density: s.density ? { grid: s.density.grid, density: s.density.density } : null };
}

/** The sweep's spectra, in checkpoint order (checkpoints without one are left out). */
export async function sweepSpectra(dir: string, checkpoints: string[]): Promise<CheckpointSpectrum[]> {
  const out: CheckpointSpectrum[] = [];
  for (const c of checkpoints) {
    const file = path.join(dir, SPECTRA_DIR, c, SPECTRUM_FILE);
    if (existsSync(file)) out.push(await readSpectrum(file, c));
  }
  return out;
}
