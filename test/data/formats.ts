/** Writers for small dataset files in every format the readers take, for the tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import type { Dataset, Batch, BatchOptions } from '../../src/data/dataset.ts';

export function tempDir(prefix = 'backpack-data-'): { dir: string; file: (name: string, bytes: Uint8Array | string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    file: (name, bytes) => {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const gz = (b: Uint8Array) => new Uint8Array(gzipSync(b));

/** An IDX file: magic 00 00 type ndim, big-endian u32 dims, big-endian data. */
export function idx(type: 0x08 | 0x09 | 0x0b | 0x0c | 0x0d | 0x0e, dims: number[], values: ArrayLike<number>): Uint8Array {
  const size = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 }[type];
  const out = new Uint8Array(4 + 4 * dims.length + values.length * size);
  const dv = new DataView(out.buffer);
  out.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  const at = 4 + 4 * dims.length;
  for (let i = 0; i < values.length; i++) {
    const o = at + i * size;
    if (type === 0x08) dv.setUint8(o, values[i]);
    else if (type === 0x09) dv.setInt8(o, values[i]);
    else if (type === 0x0b) dv.setInt16(o, values[i], false);
    else if (type === 0x0c) dv.setInt32(o, values[i], false);
    else if (type === 0x0d) dv.setFloat32(o, values[i], false);
    else dv.setFloat64(o, values[i], false);
  }
  return out;
}

/** CIFAR rows: `labels[n]` (1 byte for CIFAR-10, [coarse, fine] for CIFAR-100) then 3072 pixels. */
export function cifar(labels: number[][], pixel: (n: number, j: number) => number): Uint8Array {
  const stride = labels[0].length + 3072;
  const out = new Uint8Array(labels.length * stride);
  labels.forEach((l, n) => {
    out.set(l, n * stride);
    for (let j = 0; j < 3072; j++) out[n * stride + l.length + j] = pixel(n, j);
  });
  return out;
}

/** A zip archive (no zip64), each entry stored or deflated. */
export function zip(entries: { name: string; data: Uint8Array; deflate?: boolean }[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const body = e.deflate ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const crc = crc32(e.data);
    const local = new Uint8Array(30 + name.length + body.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, e.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, e.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(body, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, e.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, e.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cdSize = centrals.reduce((s, c) => s + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return concat([...locals, ...centrals, eocd]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Every batch of one pass, plus the concatenated inputs/targets/indices. */
export async function collect(ds: Dataset, opts: BatchOptions): Promise<{ batches: Batch[]; inputs: number[]; targets: number[]; indices: number[] }> {
  const batches: Batch[] = [];
  for await (const b of ds.batches(opts)) batches.push(b);
  const flat = (f: (b: Batch) => ArrayLike<number | bigint>) => batches.flatMap((b) => Array.from(f(b), Number));
  return { batches, inputs: flat((b) => b.inputs.data), targets: flat((b) => b.targets.data), indices: flat((b) => b.indices) };
}
