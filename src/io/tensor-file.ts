/**
 * Reading and writing tensor files by path; the format follows the extension (.npy / .safetensors).
 * Reads are bounded: only regular files, the header first, every declared size checked against
 * the file's size before anything is allocated, then each tensor's bytes read straight into the
 * buffer it keeps (one copy of the data in memory, not a file buffer plus a decoded copy).
 */
import { extname } from 'node:path';
import { TensorFileError } from '../errors/index.ts';
import { readExactly, withRegularFile, type OpenedFile } from './bounded-read.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { decodeElements, HOST_DTYPE } from './elements.ts';
import type { HostDType, HostTensor } from './host-tensor.ts';
import { encodeNpy, MAX_NPY_HEADER, NPY_PREAMBLE_BYTES, npyHeaderSpan, npyTensor, parseNpyHeader } from './npy.ts';
import { encodeSafetensors, parseSafetensorsHeader, safetensorsHeaderLength, type SafetensorsEntry, type SafetensorsHeader } from './safetensors.ts';

type Format = 'npy' | 'safetensors';

const tensorFileError = (message: string) => new TensorFileError(message);

function formatOf(path: string): Format {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return 'npy';
  if (ext === '.safetensors') return 'safetensors';
  throw new TensorFileError(`${path}: unknown tensor file extension '${ext}' (expected .npy or .safetensors)`);
}

/** What a tensor file declares, read from its header alone. */
export interface TensorInfo {
  dtype: HostDType;
  shape: number[];
  /** Bytes of data in the file (as stored: a float64 file has 8 per element). */
  bytes: number;
}

async function readAt(file: OpenedFile, position: number, length: number, path: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await readExactly(file, out, position, path, tensorFileError);
  return out;
}

async function npyHeaderOf(file: OpenedFile, path: string) {
  const preamble = await readAt(file, 0, Math.min(file.size, NPY_PREAMBLE_BYTES), path);
  const { dataStart } = npyHeaderSpan(preamble, file.size, path);
  return parseNpyHeader(await readAt(file, 0, Math.min(dataStart, NPY_PREAMBLE_BYTES + MAX_NPY_HEADER), path), file.size, path);
}

async function safetensorsHeaderOf(file: OpenedFile, path: string): Promise<SafetensorsHeader> {
  const len = safetensorsHeaderLength(await readAt(file, 0, Math.min(file.size, 8), path), file.size, path);
  return parseSafetensorsHeader(await readAt(file, 8, len, path), file.size, path);
}

/** The only tensor of a one-tensor .safetensors (inputs, targets). */
function onlyEntry(h: SafetensorsHeader, path: string): SafetensorsEntry {
  if (h.entries.length !== 1) {
    const keys = h.entries.map((e) => `'${e.name}'`).join(', ');
    throw new TensorFileError(`${path}: expected exactly one tensor, found ${h.entries.length}: ${keys || '(none)'}`);
  }
  return h.entries[0];
}

async function readEntry(file: OpenedFile, h: SafetensorsHeader, e: SafetensorsEntry, path: string): Promise<HostTensor> {
  const bytes = await readAt(file, h.dataStart + e.begin, e.end - e.begin, path);
  return { dtype: HOST_DTYPE[e.elem], shape: e.shape, data: decodeElements(bytes, e.elem, true, true) };
}

/** The dtype and shape of a one-tensor file, from its header (no data is read). */
export async function readTensorInfo(path: string): Promise<TensorInfo> {
  const format = formatOf(path);
  return withRegularFile(path, tensorFileError, async (file) => {
    if (format === 'npy') {
      const h = await npyHeaderOf(file, path);
      return { dtype: HOST_DTYPE[h.elem], shape: h.shape, bytes: h.dataBytes };
    }
    const e = onlyEntry(await safetensorsHeaderOf(file, path), path);
    return { dtype: HOST_DTYPE[e.elem], shape: e.shape, bytes: e.end - e.begin };
  });
}

/** The dtype and shape of every tensor of a .safetensors, from its header (no data is read). */
export async function readTensorMapInfo(path: string): Promise<Map<string, TensorInfo>> {
  if (formatOf(path) !== 'safetensors') throw new TensorFileError(`${path}: a tensor map must be a .safetensors file`);
  return withRegularFile(path, tensorFileError, async (file) => {
    const h = await safetensorsHeaderOf(file, path);
    return new Map(h.entries.map((e) => [e.name, { dtype: HOST_DTYPE[e.elem], shape: e.shape, bytes: e.end - e.begin }]));
  });
}

/** Reads one tensor: a .npy, or a .safetensors holding exactly one tensor. */
export async function readTensorFile(path: string): Promise<HostTensor> {
  const format = formatOf(path);
  return withRegularFile(path, tensorFileError, async (file) => {
    if (format === 'npy') {
      const h = await npyHeaderOf(file, path);
      return npyTensor(h, await readAt(file, h.dataStart, h.dataBytes, path), true);
    }
    const h = await safetensorsHeaderOf(file, path);
    return readEntry(file, h, onlyEntry(h, path), path);
  });
}

/** Reads every tensor of a .safetensors file, in header order. */
export async function readTensorMap(path: string): Promise<Map<string, HostTensor>> {
  if (formatOf(path) !== 'safetensors') {
    throw new TensorFileError(`${path}: a tensor map must be a .safetensors file`);
  }
  return withRegularFile(path, tensorFileError, async (file) => {
    const h = await safetensorsHeaderOf(file, path);
    const tensors = new Map<string, HostTensor>();
    for (const e of h.entries) tensors.set(e.name, await readEntry(file, h, e, path));
    return tensors;
  });
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
