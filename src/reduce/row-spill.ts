/**
 * Streaming of per-sample outputs: the worker that computed a shard writes its rows (BatchGrad,
 * SqrtGGN, …) to a file of its own in the job's spill directory, straight from its memory, and
 * returns only references to them ('spilled' entries). The coordinator never holds rows; the
 * results file is later written row by row from the spill files (finalize's streamed tensors), so
 * memory never holds [N, *θ], nor even one shard's rows outside the worker that made them.
 */
import { closeSync, mkdtempSync, openSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { BackpackError, ErrorCode } from '../errors/index.ts';
import { releaseHostData } from '../io/host-tensor.ts';
import type { PartialEntry, ShardPartials, SpillChunk } from '../core/partials.ts';

/** Spill directories are `.backpack-spill-<pid>-…` in the output directory (see temp-files.ts). */
export const SPILL_PATTERN = /^\.backpack-spill-(\d+)-/;

export function createSpillDir(parent: string): string {
  return mkdtempSync(path.join(parent, `.backpack-spill-${process.pid}-`));
}

/**
 * Writes a shard's rows entries, one after the other, into a new file of `dir` and returns the
 * partials with those entries replaced by references; sums stay as they are. The file name is
 * unique per attempt, so a retry never races a file its killed predecessor was writing.
 */
export function spillRows(shard: ShardPartials, dir: string): ShardPartials {
  const entries: Record<string, PartialEntry> = {};
  const file = path.join(dir, `shard-${shard.shardId}-${process.pid}-${Math.random().toString(36).slice(2, 10)}.f32`);
  let fd: number | null = null;
  let size = 0;
  try {
    for (const [key, e] of Object.entries(shard.entries)) {
      if (e.kind !== 'rows') {
        entries[key] = e;
        continue;
      }
      fd ??= openSync(file, 'w');
      const bytes = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, size + done);
      const chunk: SpillChunk = { file, byteOffset: size, index: e.index };
      size += bytes.length;
      // Written: a native view goes back to its cache now.
      releaseHostData(e.data);
      entries[key] = { kind: 'spilled', rowShape: e.rowShape, chunks: [chunk] };
    }
  } finally {
    if (fd !== null) closeSync(fd);
  }
  return { ...shard, entries };
}

/** Open spill files kept at once while reading (rows are read mostly file after file). */
const OPEN_FILES = 8;

/** Random access to spilled rows by global sample index. */
export class SpilledRows {
  private where = new Map<number, { chunk: SpillChunk; row: number }>();
  private fds = new Map<string, number>();
  readonly width: number;

  constructor(entry: Extract<PartialEntry, { kind: 'spilled' }>) {
    this.width = entry.rowShape.reduce((a, b) => a * b, 1);
    for (const chunk of entry.chunks) chunk.index.forEach((sample, row) => this.where.set(sample, { chunk, row }));
  }

  has(sample: number): boolean {
    return this.where.has(sample);
  }

  /** An open descriptor of `file`, most recently used last; the oldest is closed beyond OPEN_FILES. */
  private fdOf(file: string): number {
    let fd = this.fds.get(file);
    if (fd !== undefined) {
      this.fds.delete(file);
    } else {
      fd = openSync(file, 'r');
      if (this.fds.size >= OPEN_FILES) {
        const [oldest, old] = this.fds.entries().next().value as [string, number];
        this.fds.delete(oldest);
        closeSync(old);
      }
    }
    this.fds.set(file, fd);
    return fd;
  }

  /**
   * Reads `length` floats of a sample's row starting at element `start`, into `into` when given
   * (a writer that consumes each row at once reuses one buffer instead of allocating per row).
   */
  read(sample: number, start = 0, length = this.width, into?: Float32Array): Float32Array {
    const w = this.where.get(sample)!;
    const fd = this.fdOf(w.chunk.file);
    const out = into && into.length === length ? into : new Float32Array(length);
    const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    const at = w.chunk.byteOffset + (w.row * this.width + start) * 4;
    for (let done = 0; done < bytes.length; ) {
      const n = readSync(fd, bytes, done, bytes.length - done, at + done);
      if (n === 0) throw new BackpackError(ErrorCode.Internal, `${w.chunk.file}: short read of sample ${sample}`, false);
      done += n;
    }
    return out;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
