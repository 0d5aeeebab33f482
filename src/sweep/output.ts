/**
 * A sweep's files. Each unit is written whole into a temporary directory and renamed into place
 * (units/<id>/), and only then recorded in progress.jsonl: a unit directory without a progress line
 * (a crash between the two) is recomputed, a progress line always has its directory. The combined
 * rows (rows.jsonl, rows.csv) are rebuilt from the unit directories in plan order after every unit,
 * so a resumed sweep never holds a row twice.
 *
 *   OUT/units/<id>/results.safetensors   the unit's tensors (accumulated keys as `run` writes them,
 *                                        per-batch keys prefixed `batch-NNNNN/`)
 *   OUT/units/<id>/rows.jsonl            the unit's rows
 *   OUT/units/<id>/unit.json             what the unit is (checkpoint, batch size, dataset, N, shapes,
 *                                        and with skipUnsupported the (layer, quantity) pairs left out)
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeSafetensors } from '../io/safetensors.ts';
import type { SweepRow, UnitOutput } from './compute.ts';
import type { SweepUnit } from './plan.ts';
import { writeFileAtomic } from './progress.ts';
import type { RowFormat } from './spec.ts';
import type { ModelSpec } from '../nn/spec.ts';

export const UNITS_DIR = 'units';
const TMP_PREFIX = '.tmp-';

export const unitDir = (out: string, id: string) => path.join(out, UNITS_DIR, id);

/** Removes temporary unit directories a killed sweep left behind. */
export async function removeStaleTemporaries(out: string): Promise<void> {
  let names: string[] = [];
  try {
    names = await readdir(path.join(out, UNITS_DIR));
  } catch {
    return;
  }
  for (const n of names.filter((n) => n.startsWith(TMP_PREFIX))) await rm(path.join(out, UNITS_DIR, n), { recursive: true, force: true });
}

const jsonl = (rows: SweepRow[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

/**
 * Writes the unit's directory atomically (temporary directory, then rename). `model`: the spec,
 * recorded in unit.json (reports name layers and convert conventions with it). `delayMs`: test
 * hook, a pause before the rename.
 */
export async function writeUnit(out: string, unit: SweepUnit, o: UnitOutput, delayMs = 0, model?: ModelSpec): Promise<void> {
  const tmp = path.join(out, UNITS_DIR, `${TMP_PREFIX}${unit.id}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  if (o.tensors.size > 0) await writeFile(path.join(tmp, 'results.safetensors'), encodeSafetensors(o.tensors, { format: 'backpack-ts-sweep', unit: unit.id }));
  await writeFile(path.join(tmp, 'rows.jsonl'), jsonl(o.rows));
  const shapes = Object.fromEntries([...o.tensors].map(([k, t]) => [k, t.shape]));
  const info = {
    unit: unit.id, checkpoint: unit.checkpoint.name, checkpointPath: unit.checkpoint.path, checkpointIndex: unit.checkpointIndex,
    batchSize: unit.batchSize, dataset: unit.datasetName, N: o.N, batches: o.batches, rows: o.rows.length, shapes,
    ...(model ? { model } : {}),
    ...(o.skipped ? { skipped: o.skipped } : {}),
  };
  await writeFile(path.join(tmp, 'unit.json'), `${JSON.stringify(info, null, 2)}\n`);
  if (delayMs > 0) await sleep(delayMs);
  const dir = unitDir(out, unit.id);
  await rm(dir, { recursive: true, force: true }); // a directory renamed before a crash, never recorded
  await rename(tmp, dir);
}

export async function readUnitRows(out: string, id: string): Promise<SweepRow[]> {
  const text = await readFile(path.join(unitDir(out, id), 'rows.jsonl'), 'utf8');
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as SweepRow);
}

/** Columns of the CSV: every key, in order of first appearance (rows share their leading keys). */
function columns(rows: SweepRow[]): string[] {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  return cols;
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: SweepRow[]): string {
  const cols = columns(rows);
  const lines = [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell((r as unknown as Record<string, unknown>)[c])).join(','))];
  return `${lines.join('\n')}\n`;
}

/** Rebuilds OUT/rows.jsonl and/or OUT/rows.csv from the completed units, in plan order. Returns the rows. */
export async function writeCombined(out: string, units: SweepUnit[], done: Set<string>, formats: RowFormat[]): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const u of units) if (done.has(u.id)) rows.push(...(await readUnitRows(out, u.id)));
  if (formats.includes('jsonl')) await writeFileAtomic(path.join(out, 'rows.jsonl'), jsonl(rows));
  if (formats.includes('csv')) await writeFileAtomic(path.join(out, 'rows.csv'), toCsv(rows));
  return rows;
}
