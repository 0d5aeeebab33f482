/**
 * CIFAR binary batches. https://www.cs.toronto.edu/~kriz/cifar.html
 *   CIFAR-10  (data_batch_1…5.bin, test_batch.bin): <label><3072 pixels> per row;
 *   CIFAR-100 (train.bin, test.bin):                <coarse label><fine label><3072 pixels>.
 * Pixels are 1024 red, 1024 green, 1024 blue, each 32×32 row-major: already CHW [3, 32, 32].
 * Pixels stream by row (positional reads); labels are read in one chunked pass at open, which
 * also checks them against the declared class count.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TensorFileError, UsageError } from '../../errors/index.ts';
import { fileBytes, fileError, withBytes } from './bytes.ts';
import type { RowSource, Segment } from './rows.ts';
import { classTargets, type Targets } from './targets.ts';

const PIXELS = 3 * 32 * 32;
/** Rows per read in the label pass (~1 MB). */
const SCAN_ROWS = 320;

export type CifarVariant = 'cifar10' | 'cifar100';

export interface CifarOptions {
  /** CIFAR-100 only: which label byte (default 'fine', 100 classes; 'coarse' has 20). */
  label?: 'fine' | 'coarse';
}

export async function openCifar(variant: CifarVariant, files: string[], opts: CifarOptions): Promise<{ inputs: RowSource; targets: Targets }> {
  if (opts.label !== undefined && opts.label !== 'fine' && opts.label !== 'coarse') {
    throw new UsageError(`label must be 'fine' or 'coarse', got ${JSON.stringify(opts.label)}`);
  }
  if (variant === 'cifar10' && opts.label !== undefined) throw new UsageError(`label applies to cifar100 only (CIFAR-10 has one label per row)`);
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const stride = labelBytes + PIXELS;
  const which = variant === 'cifar10' ? 0 : opts.label === 'coarse' ? 0 : 1;
  const classes = variant === 'cifar10' ? 10 : opts.label === 'coarse' ? 20 : 100;
  const title = variant === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100';

  const segments: Segment[] = [];
  const labels: number[] = [];
  for (const path of files) {
    const open = fileBytes(path);
    const rows = await withBytes(open, async (bytes) => {
      if (bytes.size % stride !== 0) {
        throw new TensorFileError(`${path}: truncated: ${bytes.size} bytes is not a multiple of the ${stride}-byte ${title} row (${labelBytes} label byte${labelBytes > 1 ? 's' : ''} + ${PIXELS} pixels)`);
      }
      const n = bytes.size / stride;
      for (let r0 = 0; r0 < n; r0 += SCAN_ROWS) {
        const count = Math.min(SCAN_ROWS, n - r0);
        const chunk = await bytes.read(r0 * stride, count * stride);
        for (let k = 0; k < count; k++) {
          const v = chunk[k * stride + which];
          if (v >= classes) throw new TensorFileError(`${path}: row ${r0 + k}: label ${v} is not in [0, ${classes}) (${title}${variant === 'cifar100' ? ` ${opts.label ?? 'fine'}` : ''} labels)`);
          labels.push(v);
        }
      }
      return n;
    });
    segments.push({ open, offset: 0, stride, skip: labelBytes, rows });
  }
  const inputs: RowSource = {
    rowShape: [3, 32, 32],
    rowBytes: PIXELS,
    stored: 'uint8',
    segments,
    decode: (bytes) => Float32Array.from(bytes),
  };
  return { inputs, targets: classTargets(labels, files.join(', '), classes) };
}

/** The files of a split in an extracted CIFAR directory (cifar-10-batches-bin/, cifar-100-binary/). */
export async function cifarFiles(variant: CifarVariant, dir: string, split: 'train' | 'test'): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw fileError(dir, e);
  }
  const picked =
    variant === 'cifar100'
      ? names.filter((n) => n === `${split}.bin`)
      : split === 'test'
        ? names.filter((n) => n === 'test_batch.bin')
        : names
            .filter((n) => /^data_batch_\d+\.bin$/.test(n))
            .sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
  if (picked.length === 0) throw new TensorFileError(`${dir}: no ${split} files of ${variant} found`);
  return picked.map((n) => join(dir, n));
}
