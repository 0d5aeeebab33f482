/**
 * Tensor files a worker reads for a `"paths"` job: through its PathPolicy (roots, no symlinks,
 * O_NOFOLLOW), parsed with the same readers as `run`. A parse error becomes a failure reason that
 * names the file and the kind of problem and never quotes bytes of it: the reason is stored in
 * Redis, where whoever wrote the record can read it (a text file parsed as safetensors would
 * otherwise have its first 8 bytes quoted as a "header length").
 */
import path from 'node:path';
import { TensorFileError } from '../src/errors/index.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { parseNpy } from '../src/io/npy.ts';
import { parseSafetensors } from '../src/io/safetensors.ts';
import type { PathPolicy } from './path-policy.ts';

/** Kinds of problem, by the reader's own message; the first that matches names it. */
const KINDS: [RegExp, string][] = [
  [/truncated/, 'truncated'],
  [/header length/, 'its header length does not fit the file'],
  [/bad magic/, 'not a .npy file'],
  [/unsupported/, 'unsupported dtype or format version'],
  [/size mismatch|exceeds|data_offsets/, 'its data does not match its header'],
  [/header|__metadata__|shape/, 'malformed header'],
];

function problemKind(e: unknown): string {
  const message = e instanceof Error ? e.message : '';
  return KINDS.find(([re]) => re.test(message))?.[1] ?? 'not a valid tensor file';
}

function extension(p: string): 'npy' | 'safetensors' {
  const ext = path.extname(p).toLowerCase();
  if (ext === '.npy') return 'npy';
  if (ext === '.safetensors') return 'safetensors';
  throw new TensorFileError(`${p}: unknown tensor file extension (expected .npy or .safetensors)`);
}

function parsed<T>(p: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof TensorFileError)) throw e;
    throw new TensorFileError(`${p}: not a valid .${extension(p)} file (${problemKind(e)})`);
  }
}

/** Every tensor of a .safetensors file under a data root. */
export async function readDataTensorMap(policy: PathPolicy, p: string, what: string): Promise<Map<string, HostTensor>> {
  if (extension(p) !== 'safetensors') throw new TensorFileError(`${p}: ${what} must be a .safetensors file`);
  const bytes = await policy.readData(p, what);
  return parsed(p, () => parseSafetensors(bytes, p).tensors);
}

/** One tensor: a .npy, or a .safetensors holding exactly one, under a data root. */
export async function readDataTensor(policy: PathPolicy, p: string, what: string): Promise<HostTensor> {
  const format = extension(p);
  const bytes = await policy.readData(p, what);
  if (format === 'npy') return parsed(p, () => parseNpy(bytes, p));
  const tensors = parsed(p, () => parseSafetensors(bytes, p).tensors);
  if (tensors.size !== 1) throw new TensorFileError(`${p}: expected exactly one tensor, found ${tensors.size}`);
  return tensors.values().next().value as HostTensor;
}
