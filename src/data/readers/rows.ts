/**
 * Fixed-size rows at fixed strides in one or more byte sources, read on demand: a batch of rows
 * costs one positional read per run of consecutive rows (one read per row when shuffled, one
 * read per batch when not), never a pass over the file.
 */
import { numel } from '../../io/host-tensor.ts';
import { memoryBytes, type Bytes, type BytesOpener } from './bytes.ts';

/** `rows` rows of one source: row r's bytes are [offset + r·stride + skip, … + rowBytes). */
export interface Segment {
  open: BytesOpener;
  offset: number;
  stride: number;
  skip: number;
  rows: number;
}

export interface RowSource {
  /** Shape of one row, e.g. [1, 28, 28]. */
  rowShape: number[];
  /** Stored bytes per row. */
  rowBytes: number;
  /** Element type as stored ('uint8', 'float32', 'int16', …): 'unit' normalisation needs 'uint8'. */
  stored: string;
  /** Rows in order: CIFAR-10's five training batches are five segments of one source. */
  segments: Segment[];
  /** Decodes `count` rows (exactly count·rowBytes bytes, a fresh aligned buffer) to float32. */
  decode(bytes: Uint8Array, count: number): Float32Array;
}

export const totalRows = (src: RowSource): number => src.segments.reduce((s, g) => s + g.rows, 0);

/** Rows already in memory as float32 (CSV, Fortran-order .npy). */
export function memoryRows(data: Float32Array, rowShape: number[], label: string): RowSource {
  const per = numel(rowShape);
  const rows = per === 0 ? 0 : data.length / per;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return {
    rowShape,
    rowBytes: per * 4,
    stored: 'float32',
    segments: [{ open: memoryBytes(bytes, label), offset: 0, stride: per * 4, skip: 0, rows }],
    decode: (b, count) => new Float32Array(b.buffer, b.byteOffset, count * per),
  };
}

/** An open RowSource: one Bytes per segment, closed together. */
export class RowReader {
  private constructor(
    private readonly src: RowSource,
    private readonly bytes: Bytes[],
    private readonly starts: number[],
  ) {}

  static async open(src: RowSource): Promise<RowReader> {
    const bytes: Bytes[] = [];
    try {
      for (const seg of src.segments) bytes.push(await seg.open());
    } catch (e) {
      await Promise.all(bytes.map((b) => b.close()));
      throw e;
    }
    const starts: number[] = [];
    let at = 0;
    for (const seg of src.segments) {
      starts.push(at);
      at += seg.rows;
    }
    return new RowReader(src, bytes, starts);
  }

  /** Rows `indices` (dataset row numbers), in that order, as float32 [B·numel(rowShape)]. */
  async read(indices: Int32Array): Promise<Float32Array> {
    const { rowBytes, segments } = this.src;
    const out = new Uint8Array(indices.length * rowBytes);
    const reads: Promise<void>[] = [];
    for (let b = 0; b < indices.length; ) {
      const s = this.segmentOf(indices[b]);
      const end = this.starts[s] + segments[s].rows;
      let e = b + 1;
      while (e < indices.length && indices[e] === indices[e - 1] + 1 && indices[e] < end) e++;
      reads.push(this.readRun(s, indices[b] - this.starts[s], b, e - b, out));
      b = e;
    }
    await Promise.all(reads);
    return this.src.decode(out, indices.length);
  }

  close(): Promise<void> {
    return Promise.all(this.bytes.map((b) => b.close())).then(() => undefined);
  }

  private segmentOf(n: number): number {
    for (let s = this.starts.length - 1; s >= 0; s--) if (n >= this.starts[s]) return s;
    return 0;
  }

  /** `count` consecutive rows from local row `row` of segment `s`, into batch slots [b, b+count). */
  private async readRun(s: number, row: number, b: number, count: number, out: Uint8Array): Promise<void> {
    const { rowBytes } = this.src;
    const { offset, stride, skip } = this.src.segments[s];
    const span = await this.bytes[s].read(offset + row * stride + skip, (count - 1) * stride + rowBytes);
    if (stride === rowBytes) {
      out.set(span, b * rowBytes);
      return;
    }
    for (let k = 0; k < count; k++) out.set(span.subarray(k * stride, k * stride + rowBytes), (b + k) * rowBytes);
  }
}
