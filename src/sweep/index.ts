/** Sweeps: quantities over checkpoints × batch sizes × datasets, resumable (see run-sweep.ts). */
export { runSweep, type SweepRunOptions, type SweepSummary } from './run-sweep.ts';
export { parseSweepSpec, parseSweepText, readSweepSpec, type SweepSpec, type SweepOptions, type SweepMode, type RowFormat } from './spec.ts';
export { SweepSpecError, SweepStateError } from './errors.ts';
export type { SweepRow } from './compute.ts';
export type { RowSummary, TopEntry } from './summaries.ts';
export { unitDir, readUnitRows } from './output.ts';
export { readManifest, readProgress, type Manifest, type ProgressEntry } from './progress.ts';
