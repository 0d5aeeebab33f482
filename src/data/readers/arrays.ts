/**
 * Array files: a pair of .npy files (inputs, targets) or one .npz (a zip of .npy files, as
 * np.savez / np.savez_compressed write). Inputs stream by row where the bytes lie in the file
 * as they are (.npy, stored .npz entries); a deflated .npz entry is inflated into memory once,
 * at open, and its rows are decoded from there. Targets are read whole.
 */
import { basename, dirname, join } from 'node:path';
import { TensorFileError, UsageError } from '../../errors/index.ts';
import { parseNpy } from '../../io/npy.ts';
import { fileBytes, memoryBytes, withBytes, type Bytes } from './bytes.ts';
import { npyRows, readNpy, readNpyLayout } from './npy-rows.ts';
import type { RowSource } from './rows.ts';
import { targetsFromTensor, type TargetOptions, type Targets } from './targets.ts';
import { readEntry, readZipEntries, type ZipEntry } from './zip.ts';

export interface ArrayKeys {
  /** Array name for the inputs (default 'inputs', else 'x'). */
  inputs?: string;
  /** Array name for the targets (default 'targets', else 'y'). */
  targets?: string;
}

export const DEFAULT_KEYS = { inputs: ['inputs', 'x'], targets: ['targets', 'y'] } as const;

/** The name a key option picks, or the first default present; the message lists what there is. */
export function pickKey(have: readonly string[], keys: ArrayKeys, role: 'inputs' | 'targets', path: string): string {
  const wanted = keys[role] !== undefined ? [keys[role]] : DEFAULT_KEYS[role];
  const found = wanted.find((k) => have.includes(k));
  if (found === undefined) {
    const list = have.map((k) => `'${k}'`).join(', ') || '(none)';
    throw new TensorFileError(`${path}: no array ${wanted.map((k) => `'${k}'`).join(' or ')} for the ${role} (arrays: ${list}); pass keys.${role}`);
  }
  return found;
}

/** targets.npy beside inputs.npy, y.npy beside x.npy (X_train.npy → y_train.npy). */
export function targetsPathFor(inputs: string): string {
  const name = basename(inputs);
  const guess = name.includes('inputs') ? name.replace(/inputs(?!.*inputs)/, 'targets') : name.replace(/^[xX](?=[._])/, 'y');
  if (guess === name) throw new UsageError(`targets: cannot derive the targets file from '${inputs}' (expected inputs*.npy or x*.npy); pass targets`);
  return join(dirname(inputs), guess);
}

export async function openNpyPair(inputs: string, targets: string, opts: TargetOptions): Promise<{ inputs: RowSource; targets: Targets }> {
  const open = fileBytes(inputs);
  const layout = await withBytes(open, (b) => readNpyLayout(b, 0, b.size, inputs));
  const topen = fileBytes(targets);
  const tlayout = await withBytes(topen, (b) => readNpyLayout(b, 0, b.size, targets));
  if (tlayout.shape[0] !== layout.shape[0]) throw new TensorFileError(`${targets}: ${tlayout.shape[0]} rows, but ${inputs} has ${layout.shape[0]}`);
  return {
    inputs: await npyRows(open, layout, inputs),
    targets: targetsFromTensor(await readNpy(topen, tlayout, targets), targets, opts),
  };
}

async function entryRows(bytes: Bytes, path: string, entry: ZipEntry): Promise<RowSource> {
  const label = `${path} (${entry.name})`;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) {
      throw new TensorFileError(`${path}: corrupt zip: stored entry '${entry.name}' has sizes ${entry.compressedSize} and ${entry.size}`);
    }
    return npyRows(fileBytes(path), await readNpyLayout(bytes, entry.dataOffset, entry.size, label), label);
  }
  const mem = memoryBytes(await readEntry(bytes, entry, path), label);
  return npyRows(mem, await withBytes(mem, (b) => readNpyLayout(b, 0, b.size, label)), label);
}

export function openNpz(path: string, keys: ArrayKeys, opts: TargetOptions): Promise<{ inputs: RowSource; targets: Targets }> {
  return withBytes(fileBytes(path), async (bytes) => {
    const entries = await readZipEntries(bytes, path);
    const names = [...entries.keys()].filter((n) => n.endsWith('.npy')).map((n) => n.slice(0, -4));
    const input = entries.get(`${pickKey(names, keys, 'inputs', path)}.npy`)!;
    const target = entries.get(`${pickKey(names, keys, 'targets', path)}.npy`)!;
    const tlabel = `${path} (${target.name})`;
    return {
      inputs: await entryRows(bytes, path, input),
      targets: targetsFromTensor(parseNpy(await readEntry(bytes, target, path), tlabel), tlabel, opts),
    };
  });
}
