/**
 * What a sweep's output directory remembers between runs, so an interrupted sweep continues where
 * it stopped and never counts a unit twice:
 *
 *   OUT/manifest.json    the sweep's identity (model, checkpoints, batch sizes, datasets, quantities,
 *                        the (layer, quantity) pairs skipped, the settings that change numbers) and
 *                        its unit ids, in plan order;
 *   OUT/progress.jsonl   append-only, one line per completed unit. A line is added only after the
 *                        unit's directory is complete (see output.ts), and the file is replaced by
 *                        a rename, so a crash leaves either the old file or the new one, whole;
 *   OUT/.lock            the pid of the sweep writing here (a second live writer is refused).
 */
import { writeFileAtomic } from '../io/atomic-write.ts';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { log } from '../log.ts';
import { skipKey, unsupportedPairs } from '../extensions/support.ts';
import { SweepStateError } from './errors.ts';
import type { SweepUnit } from './plan.ts';
import type { SweepSpec } from './spec.ts';

export const PROGRESS_FILE = 'progress.jsonl';
export const MANIFEST_FILE = 'manifest.json';
const LOCK_FILE = '.lock';

export interface ProgressEntry {
  unit: string;
  rows: number;
  /** Wall time of the unit (informational: not part of any result). */
  ms: number;
  finishedAt: string;
}

export interface Manifest {
  format: 'backpack-ts-sweep';
  version: 1;
  identity: Record<string, unknown>;
  units: { id: string; checkpoint: string; checkpointIndex: number; batchSize: number; dataset: string }[];
}


async function fileStamp(file: string): Promise<{ size: number; mtimeMs: number } | null> {
  try {
    const s = await stat(file);
    return { size: s.size, mtimeMs: Math.round(s.mtimeMs) };
  } catch {
    return null; // reported when the unit loads it
  }
}

/**
 * Everything that changes a sweep's numbers. Files are identified by path, size and mtime (not
 * content: checkpoints can be large), so a regenerated checkpoint makes the old progress unusable.
 */
export async function sweepIdentity(spec: SweepSpec, plan: string): Promise<Record<string, unknown>> {
  const o = spec.options;
  const skipped = o.skipUnsupported ? unsupportedPairs(spec.model, spec.quantities) : [];
  return {
    model: createHash('sha1').update(JSON.stringify(spec.model)).digest('hex').slice(0, 16),
    checkpoints: await Promise.all(spec.checkpoints.map(async (c) => ({ ...c, file: await fileStamp(c.path) }))),
    batchSizes: spec.batchSizes,
    datasets: await Promise.all(spec.datasets.map(async (d) => ({ ...d, file: typeof d.path === 'string' ? await fileStamp(d.path) : null }))),
    quantities: spec.quantities,
    // Absent when nothing is skipped, so the manifests of sweeps that skip nothing stay as they were.
    ...(skipped.length > 0 ? { skipped: skipped.map((s) => skipKey(s.layer, s.quantity)) } : {}),
    ...(spec.spectrum ? { spectrum: spec.spectrum } : {}),
    settings: {
      backend: o.backend, seed: o.seed, mcSamples: o.mcSamples, shuffle: o.shuffle, dropLast: o.dropLast, maxBatches: o.maxBatches ?? null,
      mode: o.mode, topK: o.topK, tensors: o.tensors,
      // The shard plan fixes the float summation order: with no shardSize it follows the workers (or the queue's default).
      shards: o.shardSize ?? plan,
    },
  };
}

export function manifestOf(identity: Record<string, unknown>, units: SweepUnit[]): Manifest {
  return {
    format: 'backpack-ts-sweep',
    version: 1,
    identity,
    units: units.map((u) => ({ id: u.id, checkpoint: u.checkpoint.name, checkpointIndex: u.checkpointIndex, batchSize: u.batchSize, dataset: u.datasetName })),
  };
}

export async function readManifest(out: string): Promise<Manifest | null> {
  let text: string;
  try {
    text = await readFile(path.join(out, MANIFEST_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text) as Manifest;
  } catch (e) {
    throw new SweepStateError(`${path.join(out, MANIFEST_FILE)}: not valid JSON (${(e as Error).message}); pass --restart to start over`);
  }
}

/** Refuses to resume a different sweep: names what changed. */
export function checkSameSweep(out: string, old: Manifest, identity: Record<string, unknown>): void {
  const changed = Object.keys({ ...old.identity, ...identity }).filter((k) => JSON.stringify(old.identity?.[k]) !== JSON.stringify(identity[k]));
  if (changed.length > 0) {
    throw new SweepStateError(`${out} holds the progress of a different sweep (changed: ${changed.join(', ')}); pass --restart to discard it, or choose another output directory`);
  }
}

/** The completed units; a torn last line (impossible with rename, possible if edited by hand) is ignored with a warning. */
export async function readProgress(out: string): Promise<ProgressEntry[]> {
  let text: string;
  try {
    text = await readFile(path.join(out, PROGRESS_FILE), 'utf8');
  } catch {
    return [];
  }
  const entries: ProgressEntry[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line) as ProgressEntry);
    } catch {
      log.warn(`${path.join(out, PROGRESS_FILE)}: line ${i + 1} is not JSON; ignored (its unit will be recomputed)`);
    }
  }
  return entries;
}

/** Appends one line; the whole file is rewritten and renamed into place (atomic, never torn). */
export async function appendProgress(out: string, entry: ProgressEntry): Promise<void> {
  const file = path.join(out, PROGRESS_FILE);
  let old = '';
  try {
    old = await readFile(file, 'utf8');
  } catch {
    // first unit
  }
  if (old !== '' && !old.endsWith('\n')) old += '\n';
  await writeFileAtomic(file, `${old}${JSON.stringify(entry)}\n`);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Takes OUT/.lock; a lock left by a process that is gone (killed) is taken over. Returns the release function. */
export async function lockOut(out: string): Promise<() => Promise<void>> {
  const file = path.join(out, LOCK_FILE);
  try {
    await writeFile(file, String(process.pid), { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new SweepStateError(`${out} is being written by another sweep (pid ${pid}); wait for it or choose another output directory`);
    }
    await writeFile(file, String(process.pid));
  }
  return async () => {
    await rm(file, { force: true });
  };
}

export { writeFileAtomic };
