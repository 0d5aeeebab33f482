/** Which reader a path needs: by file name, or by the files in a directory of a known layout. */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { UsageError } from '../../errors/index.ts';
import { fileError } from './bytes.ts';

export const FORMATS = ['idx', 'cifar10', 'cifar100', 'npy', 'npz', 'safetensors', 'csv'] as const;
export type DatasetFormat = (typeof FORMATS)[number];

/** The format a file name implies, or undefined. */
export function formatOfName(path: string): DatasetFormat | undefined {
  const name = basename(path).toLowerCase().replace(/\.gz$/, '');
  if (/idx\d-ubyte$/.test(name)) return 'idx';
  if (/^(data_batch_\d+|test_batch)\.bin$/.test(name)) return 'cifar10';
  if (/^(train|test)\.bin$/.test(name)) return 'cifar100';
  const ext = /\.([a-z]+)$/.exec(name)?.[1];
  return FORMATS.find((f) => f === ext && (f === 'npy' || f === 'npz' || f === 'safetensors' || f === 'csv'));
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    throw fileError(path, e);
  }
}

/**
 * A directory as the download script leaves it: cifar-10-batches-bin/, cifar-100-binary/,
 * an MNIST folder of (gzipped) IDX files, or a folder with inputs.npy + targets.npy.
 * Returns the format and the file the reader starts from (the directory itself for CIFAR).
 */
export async function resolveDirectory(dir: string, split: 'train' | 'test'): Promise<{ format: DatasetFormat; path: string }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw fileError(dir, e);
  }
  const has = (n: string) => names.includes(n);
  if (names.some((n) => /^data_batch_\d+\.bin$/.test(n)) || has('test_batch.bin')) return { format: 'cifar10', path: dir };
  if (has('train.bin') || has('test.bin')) return { format: 'cifar100', path: dir };
  const prefix = split === 'train' ? 'train' : 't10k';
  const idx = names.filter((n) => new RegExp(`^${prefix}-images[-.]idx3-ubyte(\\.gz)?$`).test(n)).sort();
  if (idx.length > 0) return { format: 'idx', path: join(dir, idx[0]) };
  for (const n of ['inputs.npy', 'x.npy']) {
    if (!has(n)) continue;
    if (split === 'test') throw new UsageError(`split: ${dir} holds one ${n} with its targets, no test split; pass the test files' path`);
    return { format: 'npy', path: join(dir, n) };
  }
  throw new UsageError(`${dir}: a directory of no known layout (CIFAR batches, ${prefix}-images-idx3-ubyte, inputs.npy); pass a file and format`);
}
