/**
 * The library entry of sweeps: every checkpoint × batch size × dataset of a SWEEP.json, as units
 * (plan.ts) computed one after another on one worker pool, each written whole before it is
 * recorded (output.ts, progress.ts). A second call with the same output directory skips the units
 * already recorded: an interrupted sweep continues where it stopped.
 *
 *   const spec = await readSweepSpec('sweep.json');
 *   const s = await runSweep(spec, { out: 'out/sweep' });     // s.rows: one per (unit, batch)
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { log } from '../log.ts';
import { useBackend } from '../backends/select.ts';
import { createPool } from '../coordinator/create-pool.ts';
import { SHARDS_PER_WORKER } from '../coordinator/run-job.ts';
import { openDataset, type Dataset } from '../data/dataset.ts';
import { ShapeError, TensorFileError } from '../errors/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { readTensorMap, readTensorMapInfo } from '../io/tensor-file.ts';
import { checkNoExtraWeights } from '../nn/extra-weights.ts';
import { buildNetwork, disposeNetwork, type Network } from '../nn/network.ts';
import { computeUnit, type SweepRow, type UnitEnv, type UnitOutput } from './compute.ts';
import { SweepSpecError } from './errors.ts';
import { removeStaleTemporaries, UNITS_DIR, writeCombined, writeUnit } from './output.ts';
import { planUnits, type SweepUnit } from './plan.ts';
import {
  appendProgress, checkSameSweep, lockOut, manifestOf, MANIFEST_FILE, PROGRESS_FILE, readManifest, readProgress, sweepIdentity, writeFileAtomic,
} from './progress.ts';
import type { Checkpoint, SweepSpec } from './spec.ts';
import { computeSpectra, spectrumFileOf } from './spectra.ts';
import { sweepSkipped } from './skipped.ts';
import { SPECTRA_DIR } from '../spectrum/output.ts';

export interface SweepRunOptions {
  /** Output directory (default: the spec's options.out, else out/sweep). */
  out?: string;
  /** Overrides options.workers. */
  workers?: number;
  /** Discard the progress in the output directory and start over. */
  restart?: boolean;
  /** Called after each unit is recorded. */
  onUnit?: (e: { unit: SweepUnit; done: number; total: number; ms: number; rows: number }) => void;
  /** Test hook: pause inside each unit, after its files are written and before they are committed. */
  debugUnitDelayMs?: number;
  /**
   * Computes units somewhere else than on a local pool (the queue: queue/sweep-unit.ts); no local
   * pool is started then. `plan` names its shard plan when options.shardSize does not.
   */
  runner?: UnitRunner;
}

export interface UnitRunner {
  compute(unit: SweepUnit, ds: Dataset, env: UnitEnv): Promise<UnitOutput>;
  plan: string;
}

export interface SweepSummary {
  out: string;
  units: number;
  /** Units computed by this call / found complete from an earlier one. */
  computed: number;
  resumed: number;
  rows: SweepRow[];
  files: string[];
}

async function openDatasets(spec: SweepSpec): Promise<Dataset[]> {
  const sets: Dataset[] = [];
  for (const d of spec.datasets) {
    const ds = await openDataset(d);
    const want = spec.model.input_shape;
    if (ds.inputShape.length !== want.length || ds.inputShape.some((v, i) => v !== want[i])) {
      throw new ShapeError(`dataset '${ds.name}' has rows of shape [${ds.inputShape.join(', ')}], the model's input_shape is [${want.join(', ')}]`);
    }
    sets.push(ds);
  }
  const names = sets.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new SweepSpecError(`datasets: two datasets are named '${dup}'; give one a "name"`);
  return sets;
}

async function checkCheckpointFiles(spec: SweepSpec): Promise<void> {
  for (const c of spec.checkpoints) {
    try {
      await stat(c.path);
    } catch {
      throw new TensorFileError(`${c.path}: file not found (checkpoint '${c.name}')`);
    }
  }
}

/** No checkpoint holds a tensor the model does not use (from the headers), before any unit runs. */
async function checkCheckpointNames(spec: SweepSpec): Promise<void> {
  for (const c of spec.checkpoints) {
    checkNoExtraWeights(spec.model, (await readTensorMapInfo(c.path)).keys(), c.path, spec.options.allowExtraWeights, 'options.allowExtraWeights');
  }
}

/** Prepares OUT for this sweep: refuses another sweep's progress, or discards it with `restart`. */
async function prepareOut(out: string, spec: SweepSpec, units: SweepUnit[], plan: string, restart: boolean): Promise<Set<string>> {
  const identity = await sweepIdentity(spec, plan);
  const old = await readManifest(out);
  if (restart) {
    // queue-jobs.json and .queue-data: a queue sweep's job ids and pass data (queue/sweep-unit.ts).
    for (const f of [PROGRESS_FILE, 'rows.jsonl', 'rows.csv', 'summary.json', UNITS_DIR, 'queue-jobs.json', '.queue-data', SPECTRA_DIR]) await rm(path.join(out, f), { recursive: true, force: true });
  } else if (old) {
    checkSameSweep(out, old, identity);
  }
  await writeFileAtomic(path.join(out, MANIFEST_FILE), `${JSON.stringify(manifestOf(identity, units), null, 2)}\n`);
  await removeStaleTemporaries(out);
  const ids = new Set(units.map((u) => u.id));
  return new Set((await readProgress(out)).map((e) => e.unit).filter((id) => ids.has(id)));
}

export async function runSweep(spec: SweepSpec, opts: SweepRunOptions = {}): Promise<SweepSummary> {
  const o = spec.options;
  const backend = await useBackend(o.backend);
  const workers = opts.workers ?? o.workers ?? availableParallelism();
  const out = path.resolve(opts.out ?? o.out ?? 'out/sweep');
  await checkCheckpointFiles(spec);
  const datasets = await openDatasets(spec);
  await checkCheckpointNames(spec);
  const skipped = await sweepSkipped(spec, out, opts.restart ?? false);
  const units = planUnits(spec, datasets.map((d) => d.name));
  await mkdir(out, { recursive: true });
  const unlock = await lockOut(out);
  let pool = null;
  // The current checkpoint's weights and network (units of one checkpoint are consecutive).
  const cache: { loaded: { path: string; weights: Map<string, HostTensor>; net: Network } | null } = { loaded: null };
  const load = async (c: Checkpoint) => {
    if (cache.loaded?.path !== c.path) {
      if (cache.loaded) disposeNetwork(cache.loaded.net);
      cache.loaded = null;
      const weights = await readTensorMap(c.path);
      cache.loaded = { path: c.path, weights, net: buildNetwork(spec.model, weights) };
    }
    return cache.loaded;
  };
  try {
    const plan = opts.runner?.plan ?? `${SHARDS_PER_WORKER} shards per worker over ${workers} worker(s)`;
    const done = await prepareOut(out, spec, units, plan, opts.restart ?? false);
    const resumed = done.size;
    if (resumed > 0) log.info(`resuming ${out}: ${resumed} of ${units.length} units already complete`);
    const spectraDone = !spec.spectrum || spec.checkpoints.every((c) => existsSync(spectrumFileOf(out, c.name)));
    pool = !opts.runner && workers > 0 && (done.size < units.length || !spectraDone) ? createPool(o.pool, workers) : null;
    let computed = 0;
    for (const unit of units) {
      if (done.has(unit.id)) continue;
      const t0 = performance.now();
      const loaded = await load(unit.checkpoint);
      const ds = datasets[unit.datasetIndex];
      const env: UnitEnv = { net: loaded.net, weights: loaded.weights, pool, backend, quantities: spec.quantities, options: o, skipped };
      const result = await (opts.runner ? opts.runner.compute(unit, ds, env) : computeUnit(unit, ds, env));
      await writeUnit(out, unit, result, opts.debugUnitDelayMs, spec.model);
      const ms = performance.now() - t0;
      await appendProgress(out, { unit: unit.id, rows: result.rows.length, ms: Math.round(ms), finishedAt: new Date().toISOString() });
      done.add(unit.id);
      computed++;
      await writeCombined(out, units, done, o.format);
      log.info(`unit ${done.size}/${units.length} ${unit.id}: ${result.batches} batch(es), N=${result.N}, ${ms.toFixed(0)} ms`);
      opts.onUnit?.({ unit, done: done.size, total: units.length, ms, rows: result.rows.length });
    }
    await computeSpectra(spec, { out, datasets, pool, backend, load });
    const rows = await writeCombined(out, units, done, o.format);
    const files = o.format.map((f) => path.join(out, `rows.${f}`));
    const summary = { units: units.length, rows: rows.length, files: o.format.map((f) => `rows.${f}`), quantities: spec.quantities, mode: o.mode, ...(o.skipUnsupported ? { skipped } : {}) };
    await writeFileAtomic(path.join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    return { out, units: units.length, computed, resumed, rows, files };
  } finally {
    if (cache.loaded) disposeNetwork(cache.loaded.net);
    await pool?.close();
    await unlock();
  }
}
