/**
 * Datasets from the files researchers have, behind one streaming interface.
 *
 * Streamed (rows read on demand by positional reads; the file is never loaded whole): IDX,
 * CIFAR, .npy inputs, stored .npz entries, .safetensors inputs. Held in memory: targets (one
 * label or a few values per row), gzipped IDX files (decompressed once at open), deflated .npz
 * entries (inflated once at open), Fortran-order .npy inputs, and CSV files.
 *
 *   const ds = await openDataset({ path: 'data/cifar-10-batches-bin', normalize: 'unit' });
 *   for await (const { inputs, targets, indices } of ds.batches({ batchSize: 128, shuffle: true, seed: epoch })) …
 */
import { basename } from 'node:path';
import { UsageError } from '../errors/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { openNpyPair, openNpz, targetsPathFor, type ArrayKeys } from './readers/arrays.ts';
import { makeDataset } from './readers/batching.ts';
import { cifarFiles, openCifar } from './readers/cifar.ts';
import { openCsv } from './readers/csv.ts';
import { labelsPathFor, openIdx } from './readers/idx.ts';
import type { Normalize } from './readers/normalize.ts';
import { FORMATS, formatOfName, isDirectory, resolveDirectory, type DatasetFormat } from './readers/resolve.ts';
import type { RowSource } from './readers/rows.ts';
import { openSafetensors } from './readers/safetensors-rows.ts';
import { checkTargetOptions, type Targets, type TargetsKind } from './readers/targets.ts';

export type { DatasetFormat } from './readers/resolve.ts';
export type { Normalize } from './readers/normalize.ts';
export type { TargetsKind } from './readers/targets.ts';

export interface BatchOptions {
  batchSize: number;
  /** Default false: rows in file order. */
  shuffle?: boolean;
  /** Shuffle seed (default 0): the same seed gives the same order; pass e.g. the epoch to vary it. */
  seed?: number;
  /** Drop the last batch when it has fewer than batchSize rows (default false). */
  dropLast?: boolean;
}

export interface Batch {
  /** float32 [B, *inputShape]. */
  inputs: HostTensor;
  /** int64 [B] class indices, or float32 [B, *targetShape]. */
  targets: HostTensor;
  /** The dataset row of each batch position. */
  indices: Int32Array;
}

export interface Dataset {
  name: string;
  /** Rows. */
  size: number;
  /** Shape of one input row: [1, 28, 28] for MNIST, [3, 32, 32] for CIFAR, [D] for CSV. */
  inputShape: number[];
  /** Shape of one target row: [] for class targets. */
  targetShape: number[];
  /** Class count, for class targets: the declared one (CIFAR, `classes`) or max label + 1. */
  classes?: number;
  targetsKind: TargetsKind;
  /** One pass over the rows; each call opens its own file descriptors and closes them when the loop ends. */
  batches(opts: BatchOptions): AsyncIterable<Batch>;
}

export interface DatasetOptions {
  /** A file, a directory of a known layout (see resolve.ts), or for CIFAR a list of batch files. */
  path: string | string[];
  /** Inferred from the file name or directory contents when absent. */
  format?: DatasetFormat;
  /** Default: the file or directory name. */
  name?: string;
  normalize?: Normalize;
  /** idx, npy, npz, safetensors, csv: declared class count; labels outside [0, classes) are an error. */
  classes?: number;
  /** npy, npz, safetensors, csv: override the class/float decision. */
  targetsKind?: TargetsKind;
  /** Directories only: which files (default 'train'). */
  split?: 'train' | 'test';
  /** idx: labels file (default: derived from the images file name). */
  labels?: string;
  /** cifar100: 'fine' (100 classes, default) or 'coarse' (20). */
  label?: 'fine' | 'coarse';
  /** npy: targets file (default: targets.npy beside inputs.npy, y.npy beside x.npy). */
  targets?: string;
  /** npz, safetensors: array names (default 'inputs' | 'x' and 'targets' | 'y'). */
  keys?: ArrayKeys;
  /** csv: see readers/csv.ts. */
  labelColumn?: string | number;
  delimiter?: string;
  header?: boolean;
}

const COMMON = ['path', 'format', 'name', 'normalize', 'split'] as const;
/** Options each format accepts beyond COMMON: anything else is a UsageError naming it. */
const APPLIES: Record<DatasetFormat, readonly (keyof DatasetOptions)[]> = {
  idx: ['labels', 'classes'],
  cifar10: [],
  cifar100: ['label'],
  npy: ['targets', 'classes', 'targetsKind'],
  npz: ['keys', 'classes', 'targetsKind'],
  safetensors: ['keys', 'classes', 'targetsKind'],
  csv: ['labelColumn', 'delimiter', 'header', 'classes', 'targetsKind'],
};

function checkOptions(opts: DatasetOptions, format: DatasetFormat): void {
  for (const [key, value] of Object.entries(opts)) {
    if (value === undefined || (COMMON as readonly string[]).includes(key)) continue;
    if (!(APPLIES[format] as readonly string[]).includes(key)) {
      const known = Object.values(APPLIES).some((keys) => (keys as readonly string[]).includes(key));
      throw new UsageError(known ? `option '${key}' does not apply to format '${format}'` : `unknown dataset option '${key}'`);
    }
  }
  if (opts.split !== undefined && opts.split !== 'train' && opts.split !== 'test') {
    throw new UsageError(`split must be 'train' or 'test', got ${JSON.stringify(opts.split)}`);
  }
  checkTargetOptions(opts);
}

/** Opens a dataset: reads and checks headers (and labels) now; rows are read by batches(). */
export async function openDataset(source: string | DatasetOptions): Promise<Dataset> {
  const opts: DatasetOptions = typeof source === 'string' ? { path: source } : source;
  if (opts.format !== undefined && !FORMATS.includes(opts.format)) {
    throw new UsageError(`format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(opts.format)}`);
  }
  const paths = Array.isArray(opts.path) ? opts.path : [opts.path];
  if (paths.length === 0 || paths.some((p) => typeof p !== 'string')) throw new UsageError(`path must be a file path or a list of them, got ${JSON.stringify(opts.path)}`);
  if (paths.length > 1 && opts.format !== 'cifar10' && opts.format !== 'cifar100' && !paths.every((p) => /^cifar/.test(formatOfName(p) ?? ''))) {
    throw new UsageError(`path: a list of files is for CIFAR batches only`);
  }
  const dir = paths.length === 1 && (await isDirectory(paths[0]));
  if (!dir && opts.split !== undefined) throw new UsageError(`split applies when path is a directory; ${paths[0]} is a file`);
  const found = dir ? await resolveDirectory(paths[0], opts.split ?? 'train') : undefined;
  const format = opts.format ?? found?.format ?? formatOfName(paths[0]);
  if (!format) throw new UsageError(`cannot tell the format of '${paths[0]}' from its name; pass format (one of ${FORMATS.join(', ')})`);
  checkOptions(opts, format);
  const path = found?.path ?? paths[0];
  const name = opts.name ?? `${basename(paths[0]).replace(/\.gz$/, '').replace(/\.[a-z]+$/, '')}${dir ? `-${opts.split ?? 'train'}` : ''}`;

  let data: { inputs: RowSource; targets: Targets };
  switch (format) {
    case 'idx':
      data = await openIdx(path, opts.labels ?? labelsPathFor(path), opts);
      break;
    case 'cifar10':
    case 'cifar100':
      data = await openCifar(format, dir ? await cifarFiles(format, path, opts.split ?? 'train') : paths, opts);
      break;
    case 'npy':
      data = await openNpyPair(path, opts.targets ?? targetsPathFor(path), opts);
      break;
    case 'npz':
      data = await openNpz(path, opts.keys ?? {}, opts);
      break;
    case 'safetensors':
      data = await openSafetensors(path, opts.keys ?? {}, opts);
      break;
    case 'csv':
      data = await openCsv(path, opts);
      break;
  }
  return makeDataset(name, paths.join(', '), data.inputs, data.targets, opts.normalize);
}
