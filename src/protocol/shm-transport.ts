/**
 * Moving big tensors between processes through files in /dev/shm (≈1.7 GB/s here, against
 * 300–470 MB/s over child_process IPC: ../shared/STACK.md). Falls back to the OS temp dir where
 * /dev/shm does not exist. The reader deletes what it has read.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { HostTensor } from '../io/host-tensor.ts';
import type { PartialEntry } from '../reduce/partials.ts';
import type { FileTensor } from './shared-tensor.ts';

const ROOT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

export function shmDir(prefix: string): string {
  return mkdtempSync(path.join(ROOT, `backpack-${prefix}-`));
}

export function removeShmDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Removes every directory `shmDir(prefix)` made (any process), e.g. a killed worker's. */
export function removeShmDirsOf(prefix: string): void {
  const start = `backpack-${prefix}-`;
  for (const name of readdirSync(ROOT)) if (name.startsWith(start)) removeShmDir(path.join(ROOT, name));
}

const bytesOf = (data: ArrayBufferView) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/** Writes a host tensor as raw data and returns its file reference. */
export function writeFileTensor(dir: string, name: string, t: HostTensor): FileTensor {
  const file = path.join(dir, name.replace(/[^A-Za-z0-9._-]/g, '_'));
  writeFileSync(file, bytesOf(t.data));
  return { kind: 'file', dtype: t.dtype, shape: t.shape, path: file, offset: 0 };
}

/** Partials with their data moved into one file: the message keeps only offsets. */
export interface PackedEntries {
  file: string;
  entries: Record<string, { entry: Omit<PartialEntry, 'data'> & { data?: undefined }; byteOffset: number; length: number; float64: boolean }>;
}

export function packEntries(entries: Record<string, PartialEntry>, file: string): PackedEntries {
  const chunks: Buffer[] = [];
  const out: PackedEntries['entries'] = {};
  let byteOffset = 0;
  for (const [key, e] of Object.entries(entries)) {
    if (e.kind === 'spilled') throw new Error(`packEntries: '${key}' is already spilled to disk`);
    const bytes = bytesOf(e.data);
    const { data, ...rest } = e;
    out[key] = { entry: rest, byteOffset, length: data.length, float64: data instanceof Float64Array };
    chunks.push(bytes);
    byteOffset += bytes.length;
  }
  writeFileSync(file, Buffer.concat(chunks));
  return { file, entries: out };
}

export function unpackEntries(packed: PackedEntries): Record<string, PartialEntry> {
  const buf = readFileSync(packed.file);
  unlinkSync(packed.file);
  const out: Record<string, PartialEntry> = {};
  for (const [key, p] of Object.entries(packed.entries)) {
    const bytes = buf.subarray(p.byteOffset, p.byteOffset + p.length * (p.float64 ? 8 : 4));
    const copy = new Uint8Array(bytes).buffer; // aligned copy
    const data = p.float64 ? new Float64Array(copy) : new Float32Array(copy);
    out[key] = { ...(p.entry as object), data } as PartialEntry;
  }
  return out;
}
