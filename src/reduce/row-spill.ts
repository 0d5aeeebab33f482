/**
 * Streaming of per-sample outputs: as shard results arrive, their rows (BatchGrad, SqrtGGN, …) are
 * appended to one spill file per key and dropped from memory; the results file is later written
 * row by row from the spills (see finalize's streamed tensors), so memory never holds [N, *θ].
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { releaseHostData } from '../io/host-tensor.ts';
import type { PartialEntry, ShardPartials, SpillChunk } from './partials.ts';

export class RowSpill {
  readonly dir: string;
  private files = new Map<string, { fd: number; file: string; size: number }>();

  constructor(parent: string) {
    this.dir = mkdtempSync(path.join(parent, '.spill-'));
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
      writeSync(f.fd, bytes, 0, bytes.length, f.size);
      releaseHostData(e.data);
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

  /** Reads `length` floats of a sample's row starting at element `start`. */
  read(sample: number, start = 0, length = this.width): Float32Array {
    const w = this.where.get(sample)!;
    let fd = this.fds.get(w.chunk.file);
    if (fd === undefined) this.fds.set(w.chunk.file, (fd = openSync(w.chunk.file, 'r')));
    const out = new Float32Array(length);
    readSync(fd, Buffer.from(out.buffer), 0, length * 4, w.chunk.byteOffset + (w.row * this.width + start) * 4);
    return out;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
