/**
 * The units of a sweep: one per checkpoint × batch size × dataset, in that nesting order (all
 * units of a checkpoint run together, so its weights are loaded once). A unit's id names it on
 * disk (units/<id>/) and in progress.jsonl, so it must be stable across runs of the same sweep.
 */
import type { DatasetOptions } from '../data/dataset.ts';
import { SweepSpecError } from './errors.ts';
import type { Checkpoint, SweepSpec } from './spec.ts';

export interface SweepUnit {
  id: string;
  /** Position in the plan (rows and combined files follow it). */
  index: number;
  checkpoint: Checkpoint;
  checkpointIndex: number;
  batchSize: number;
  dataset: DatasetOptions;
  datasetIndex: number;
  datasetName: string;
}

/** File-name-safe: anything but letters, digits, '.', '_' and '-' becomes '_'. */
export const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

export function unitId(checkpoint: string, batchSize: number, dataset: string): string {
  return `${safeName(checkpoint)}--b${batchSize}--${safeName(dataset)}`;
}

export function planUnits(spec: SweepSpec, datasetNames: string[]): SweepUnit[] {
  const units: SweepUnit[] = [];
  spec.checkpoints.forEach((checkpoint, checkpointIndex) => {
    for (const batchSize of spec.batchSizes) {
      spec.datasets.forEach((dataset, d) => {
        units.push({ id: unitId(checkpoint.name, batchSize, datasetNames[d]), index: units.length, checkpoint, checkpointIndex, batchSize, dataset, datasetIndex: d, datasetName: datasetNames[d] });
      });
    }
  });
  const ids = units.map((u) => u.id);
  const clash = ids.find((id, i) => ids.indexOf(id) !== i);
  if (clash !== undefined) throw new SweepSpecError(`two units would both be named '${clash}' (names are made file-safe); rename a checkpoint or dataset`);
  return units;
}
