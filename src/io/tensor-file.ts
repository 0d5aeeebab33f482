/** Reading and writing tensor files by path; the format follows the extension (.npy / .safetensors). */
import { writeFileAtomic } from './atomic-write.ts';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { TensorFileError } from '../errors/index.ts';
import type { HostTensor } from './host-tensor.ts';
import { encodeNpy, parseNpy } from './npy.ts';
import { encodeSafetensors, parseSafetensors } from './safetensors.ts';

type Format = 'npy' | 'safetensors';

function formatOf(path: string): Format {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return 'npy';
  if (ext === '.safetensors') return 'safetensors';
  throw new TensorFileError(`${path}: unknown tensor file extension '${ext}' (expected .npy or .safetensors)`);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TensorFileError(`${path}: file not found`);
    throw new TensorFileError(`${path}: cannot read: ${code ?? (e as Error).message}`);
  }
}

/** Reads one tensor: a .npy, or a .safetensors holding exactly one tensor. */
export async function readTensorFile(path: string): Promise<HostTensor> {
  if (formatOf(path) === 'npy') return parseNpy(await readBytes(path), path);
  const tensors = await readTensorMap(path);
  if (tensors.size !== 1) {
    const keys = [...tensors.keys()].map((k) => `'${k}'`).join(', ');
    throw new TensorFileError(`${path}: expected exactly one tensor, found ${tensors.size}: ${keys || '(none)'}`);
  }
  return tensors.values().next().value as HostTensor;
}

/** Reads every tensor of a .safetensors file, in header order. */
export async function readTensorMap(path: string): Promise<Map<string, HostTensor>> {
  if (formatOf(path) !== 'safetensors') {
    throw new TensorFileError(`${path}: a tensor map must be a .safetensors file`);
  }
  return parseSafetensors(await readBytes(path), path).tensors;
}


export async function writeSafetensorsFile(
  path: string,
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export async function writeNpyFile(path: string, t: HostTensor): Promise<void> {
  await writeFileAtomic(path, encodeNpy(t));
}
