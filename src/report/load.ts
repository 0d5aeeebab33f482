/**
 * Reads what a report is drawn from. RESULTS_DIR is either
 *   a `run` output: results.safetensors + summary.json (with --batch-size: batch-NNNNN/ folders,
 *                   of which the first is drawn), or
 *   a sweep output: manifest.json, progress.jsonl, units/<id>/. Its rows give the
 *                   across-checkpoint plots; the per-layer plots come from one unit's tensors
 *                   (the chosen unit, else the last completed one): its accumulated results when
 *                   it has them, else its first batch.
 * Spectra (spectrum.json: eigenvalues and density) come from a sweep's spectra/<checkpoint>/ or, for
 * a `spectrum` output directory, from its own spectrum.json (src/report/spectra.ts).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { HostTensor } from '../io/host-tensor.ts';
import { readTensorMap } from '../io/tensor-file.ts';
import type { SweepRow } from '../sweep/compute.ts';
import { readUnitRows, unitDir } from '../sweep/output.ts';
import { readManifest, readProgress, type Manifest } from '../sweep/progress.ts';
import { ReportInputError } from './errors.ts';
import { readSpectrum, sweepSpectra, type CheckpointSpectrum } from './spectra.ts';
import { SPECTRUM_FILE } from '../spectrum/output.ts';

export interface ReportInput {
  kind: 'run' | 'sweep';
  dir: string;
  /** The per-layer tensors (no key prefix), or null when there are none. */
  tensors: Map<string, HostTensor> | null;
  /** What the tensors are, in words (shown on the page). */
  tensorsFrom: string;
  /** Sweep rows of the completed units, in plan order (empty for a run). */
  rows: SweepRow[];
  /** Checkpoint names in sweep order (empty for a run). */
  checkpoints: string[];
  manifest: Manifest | null;
  /** Sweep units planned / completed. */
  units: { planned: number; completed: number };
  /** Curvature spectra per checkpoint (sweep order), or the one of a spectrum directory. */
  spectra: CheckpointSpectrum[];
}

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Keys under `prefix` with the prefix removed. */
function under(tensors: Map<string, HostTensor>, prefix: string): Map<string, HostTensor> {
  return new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
}

/** The unprefixed (accumulated) results of a unit's file, else those of its first batch. */
function pickTensors(all: Map<string, HostTensor>): { tensors: Map<string, HostTensor>; what: string } {
  const plain = new Map([...all].filter(([k]) => !k.includes('/')));
  if (plain.size > 0) return { tensors: plain, what: 'accumulated over the whole pass' };
  const first = [...all.keys()].map((k) => k.split('/')[0]).sort()[0];
  return { tensors: under(all, `${first}/`), what: `its ${first}` };
}

async function loadRun(dir: string): Promise<ReportInput> {
  let file = path.join(dir, 'results.safetensors');
  let what = 'results.safetensors';
  if (!existsSync(file) && existsSync(path.join(dir, 'batch-00000', 'results.safetensors'))) {
    file = path.join(dir, 'batch-00000', 'results.safetensors');
    what = 'batch-00000/results.safetensors (the first mini-batch)';
  }
  const spectrumFile = path.join(dir, SPECTRUM_FILE);
  const spectra = existsSync(spectrumFile) ? [await readSpectrum(spectrumFile, String((await readJson(spectrumFile))?.weights ?? dir).split('/').pop()!.replace(/\.safetensors$/i, ''))] : [];
  const bare = { kind: 'run' as const, dir, rows: [], checkpoints: [], manifest: null, units: { planned: 0, completed: 0 }, spectra };
  if (!existsSync(file)) {
    if (spectra.length > 0) return { ...bare, tensors: null, tensorsFrom: 'none: a `backpack-ts spectrum` output' };
    throw new ReportInputError(`${dir}: no results.safetensors (nor batch-00000/results.safetensors); expected the output of \`backpack-ts run\`, \`sweep\` or \`spectrum\``);
  }
  const summary = await readJson(path.join(path.dirname(file), 'summary.json'));
  const N = typeof summary?.N === 'number' ? `, N=${summary.N}` : '';
  return { ...bare, tensors: await readTensorMap(file), tensorsFrom: `${what}${N}` };
}

async function loadSweep(dir: string, manifest: Manifest, unit?: string): Promise<ReportInput> {
  const done = new Set((await readProgress(dir)).map((e) => e.unit));
  const completed = manifest.units.filter((u) => done.has(u.id) && existsSync(unitDir(dir, u.id)));
  const rows: SweepRow[] = [];
  for (const u of completed) rows.push(...(await readUnitRows(dir, u.id)));
  if (unit !== undefined && !completed.some((u) => u.id === unit)) {
    throw new ReportInputError(`--unit: '${unit}' is not a completed unit of ${dir}; completed: ${completed.map((u) => u.id).join(', ') || '(none)'}`);
  }
  const withTensors = completed.filter((u) => existsSync(path.join(unitDir(dir, u.id), 'results.safetensors')));
  const chosen = unit ?? withTensors.at(-1)?.id;
  let tensors: Map<string, HostTensor> | null = null;
  let tensorsFrom = 'no completed unit has tensors: options.tensors is false, or none is complete';
  if (chosen !== undefined && withTensors.some((u) => u.id === chosen)) {
    const picked = pickTensors(await readTensorMap(path.join(unitDir(dir, chosen), 'results.safetensors')));
    tensors = picked.tensors;
    tensorsFrom = `unit ${chosen}, ${picked.what}`;
  }
  const checkpoints = [...new Map(manifest.units.map((u) => [u.checkpointIndex, u.checkpoint])).entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
  return { kind: 'sweep', dir, tensors, tensorsFrom, rows, checkpoints, manifest, units: { planned: manifest.units.length, completed: completed.length }, spectra: await sweepSpectra(dir, checkpoints) };
}

export async function loadResults(dir: string, opts: { unit?: string } = {}): Promise<ReportInput> {
  if (!existsSync(dir)) throw new ReportInputError(`${dir}: no such directory`);
  const manifest = await readManifest(dir);
  if (manifest?.format === 'backpack-ts-sweep') return loadSweep(dir, manifest, opts.unit);
  if (opts.unit !== undefined) throw new ReportInputError(`--unit applies to a sweep directory; ${dir} is not one`);
  return loadRun(dir);
}
