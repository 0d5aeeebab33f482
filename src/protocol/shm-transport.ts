/**
 * Moving big tensors between processes through files in /dev/shm (≈1.7 GB/s here, against
 * 300–470 MB/s over child_process IPC: ../shared/STACK.md). Falls back to the OS temp dir where
 * /dev/shm does not exist. The reader deletes what it has read.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { HostTensor } from '../io/host-tensor.ts';
import type { PartialEntry } from '../core/partials.ts';
import type { FileTensor } from './shared-tensor.ts';

const ROOT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
export const SHM_ROOT = ROOT;

/**
 * Every shm directory is `backpack-job-<pid>-…` (made by a coordinator) or `backpack-worker-<pid>-…`
 * (by a worker process): the pid tells a crashed run's leftovers from a live run's files.
 */
export const SHM_PATTERN = /^backpack-(?:job|worker)-(\d+)-/;

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

/**
 * Partials with their data moved into one file: the message keeps only offsets. Entries already
 * spilled to disk (streaming: file references) travel as they are.
 */
export interface PackedEntries {
  file: string;
  entries: Record<string, { entry: Omit<PartialEntry, 'data'> & { data?: undefined }; byteOffset: number; length: number; float64: boolean } | { spilled: Extract<PartialEntry, { kind: 'spilled' }> }>;
}

/** Writes every byte (writeSync may write less than asked). */
function writeAll(fd: number, bytes: Uint8Array | Buffer, position: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** Fills `into` from `position` (readSync may return less than asked). */
function readAll(fd: number, into: Buffer, position: number, label: string): void {
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error(`${label}: short read (${done} of ${into.length} bytes)`);
    done += n;
  }
}

/**
 * Writes the entries' data into one file, entry after entry (never concatenated in memory first:
 * the rows of a shard may be most of the worker's budget).
 */
export function packEntries(entries: Record<string, PartialEntry>, file: string): PackedEntries {
  const out: PackedEntries['entries'] = {};
  const fd = openSync(file, 'w');
  try {
    let byteOffset = 0;
    for (const [key, e] of Object.entries(entries)) {
      if (e.kind === 'spilled') {
        out[key] = { spilled: e };
        continue;
      }
      const { data, ...rest } = e;
      writeAll(fd, bytesOf(data), byteOffset);
      out[key] = { entry: rest, byteOffset, length: data.length, float64: data instanceof Float64Array };
      byteOffset += data.byteLength;
    }
  } finally {
    closeSync(fd);
  }
  return { file, entries: out };
}

/** Reads each entry straight into its own array (one copy), then deletes the file. */
export function unpackEntries(packed: PackedEntries): Record<string, PartialEntry> {
  const out: Record<string, PartialEntry> = {};
  const fd = openSync(packed.file, 'r');
  try {
    for (const [key, p] of Object.entries(packed.entries)) {
      if ('spilled' in p) {
        out[key] = p.spilled;
        continue;
      }
      const data = p.float64 ? new Float64Array(p.length) : new Float32Array(p.length);
      readAll(fd, Buffer.from(data.buffer, 0, data.byteLength), p.byteOffset, packed.file);
      out[key] = { ...(p.entry as object), data } as PartialEntry;
    }
  } finally {
    closeSync(fd);
    unlinkSync(packed.file);
  }
  return out;
}
