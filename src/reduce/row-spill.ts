/**
 * Streaming of per-sample outputs: as shard results arrive, their rows (BatchGrad, SqrtGGN, …) are
 * appended to one spill file per key and dropped from memory; the results file is later written
 * row by row from the spills (see finalize's streamed tensors), so memory never holds [N, *θ].
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { BackpackError, ErrorCode } from '../errors/index.ts';
import type { PartialEntry, ShardPartials, SpillChunk } from './partials.ts';

/** Spill directories are `.backpack-spill-<pid>-…` in the output directory (see temp-files.ts). */
export const SPILL_PATTERN = /^\.backpack-spill-(\d+)-/;

export class RowSpill {
  readonly dir: string;
  private files = new Map<string, { fd: number; file: string; size: number }>();

  constructor(parent: string) {
    this.dir = mkdtempSync(path.join(parent, `.backpack-spill-${process.pid}-`));
  }

  /** Moves a shard's rows entries to disk; sums stay in memory. */
  spill(shard: ShardPartials): ShardPartials {
    const entries: Record<string, PartialEntry> = {};
    for (const [key, e] of Object.entries(shard.entries)) {
      if (e.kind !== 'rows') {
        entries[key] = e;
        continue;
      }
      let f = this.files.get(key);
      if (!f) {
        const file = path.join(this.dir, `${this.files.size}.f32`);
        f = { fd: openSync(file, 'w+'), file, size: 0 };
        this.files.set(key, f);
      }
      const bytes = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      for (let done = 0; done < bytes.length; ) done += writeSync(f.fd, bytes, done, bytes.length - done, f.size + done);
      const chunk: SpillChunk = { file: f.file, byteOffset: f.size, index: e.index };
      f.size += bytes.length;
      entries[key] = { kind: 'spilled', rowShape: e.rowShape, chunks: [chunk] };
    }
    return { ...shard, entries };
  }

  close(): void {
    for (const f of this.files.values()) closeSync(f.fd);
    this.files.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

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

  /**
   * Reads `length` floats of a sample's row starting at element `start`, into `into` when given
   * (a writer that consumes each row at once reuses one buffer instead of allocating per row).
   */
  read(sample: number, start = 0, length = this.width, into?: Float32Array): Float32Array {
    const w = this.where.get(sample)!;
    let fd = this.fds.get(w.chunk.file);
    if (fd === undefined) this.fds.set(w.chunk.file, (fd = openSync(w.chunk.file, 'r')));
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
