/**
 * A minimal zip reader, enough for .npz: the central directory (zip64 included, which numpy
 * writes), stored and deflated entries, no encryption, no multi-disk archives.
 * https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT
 * Offsets and sizes come from the central directory: numpy's local headers carry 0xFFFFFFFF
 * sizes with zip64 extras, and the local header is only read for its name and extra lengths.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { TensorFileError } from '../../errors/index.ts';
import type { Bytes } from './bytes.ts';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** Where the entry's (possibly compressed) data starts in the archive. */
  dataOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

const u64 = (dv: DataView, at: number) => Number(dv.getBigUint64(at, true));

/** Where the central directory is and how many entries it has, from the end records. */
async function findDirectory(bytes: Bytes, path: string): Promise<{ count: number; offset: number; size: number }> {
  const tailLen = Math.min(bytes.size, 22 + 0xffff);
  const tail = await bytes.read(bytes.size - tailLen, tailLen);
  const dv = new DataView(tail.buffer);
  let at = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (dv.getUint32(i, true) === EOCD && i + 22 + dv.getUint16(i + 20, true) === tailLen) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new TensorFileError(`${path}: corrupt zip: no end-of-central-directory record (not a zip file, or truncated)`);
  let count = dv.getUint16(at + 10, true);
  let size = dv.getUint32(at + 12, true);
  let offset = dv.getUint32(at + 16, true);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    if (at < 20 || dv.getUint32(at - 20, true) !== ZIP64_LOCATOR) throw new TensorFileError(`${path}: corrupt zip: zip64 end-of-central-directory locator missing`);
    const recAt = u64(dv, at - 12);
    if (recAt + 56 > bytes.size) throw new TensorFileError(`${path}: corrupt zip: zip64 end record at ${recAt} is outside the file`);
    const rec = new DataView((await bytes.read(recAt, 56)).buffer);
    if (rec.getUint32(0, true) !== ZIP64_EOCD) throw new TensorFileError(`${path}: corrupt zip: bad zip64 end-of-central-directory signature`);
    [count, size, offset] = [u64(rec, 32), u64(rec, 40), u64(rec, 48)];
  }
  if (offset + size > bytes.size) {
    throw new TensorFileError(`${path}: corrupt zip: central directory [${offset}, ${offset + size}) runs past the end of the file (${bytes.size} bytes)`);
  }
  return { count, offset, size };
}

export async function readZipEntries(bytes: Bytes, path: string): Promise<Map<string, ZipEntry>> {
  const dir = await findDirectory(bytes, path);
  const cd = await bytes.read(dir.offset, dir.size);
  const dv = new DataView(cd.buffer);
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let k = 0; k < dir.count; k++) {
    if (at + 46 > cd.length || dv.getUint32(at, true) !== CENTRAL) throw new TensorFileError(`${path}: corrupt zip: central directory entry ${k} has a bad signature`);
    const flags = dv.getUint16(at + 8, true);
    const method = dv.getUint16(at + 10, true);
    const crc = dv.getUint32(at + 16, true);
    let compressedSize = dv.getUint32(at + 20, true);
    let size = dv.getUint32(at + 24, true);
    const [nameLen, extraLen, commentLen] = [28, 30, 32].map((o) => dv.getUint16(at + o, true));
    let local = dv.getUint32(at + 42, true);
    const name = new TextDecoder().decode(cd.subarray(at + 46, at + 46 + nameLen));
    // The zip64 extra (id 1) holds, in this order, whichever of the three fields are 0xFFFFFFFF.
    for (let e = at + 46 + nameLen; e + 4 <= at + 46 + nameLen + extraLen; e += 4 + dv.getUint16(e + 2, true)) {
      if (dv.getUint16(e, true) !== 1) continue;
      let f = e + 4;
      if (size === 0xffffffff) [size, f] = [u64(dv, f), f + 8];
      if (compressedSize === 0xffffffff) [compressedSize, f] = [u64(dv, f), f + 8];
      if (local === 0xffffffff) local = u64(dv, f);
    }
    if (flags & 1) throw new TensorFileError(`${path}: entry '${name}' is encrypted (not supported)`);
    if (method !== 0 && method !== 8) throw new TensorFileError(`${path}: entry '${name}' uses compression method ${method} (supported: 0 stored, 8 deflate)`);
    if (local + 30 > bytes.size) throw new TensorFileError(`${path}: corrupt zip: entry '${name}' local header at ${local} is outside the file`);
    const lh = new DataView((await bytes.read(local, 30)).buffer);
    if (lh.getUint32(0, true) !== LOCAL) throw new TensorFileError(`${path}: corrupt zip: entry '${name}' local header has a bad signature`);
    const dataOffset = local + 30 + lh.getUint16(26, true) + lh.getUint16(28, true);
    if (dataOffset + compressedSize > bytes.size) {
      throw new TensorFileError(`${path}: corrupt zip: entry '${name}' data [${dataOffset}, ${dataOffset + compressedSize}) runs past the end of the file (${bytes.size} bytes)`);
    }
    entries.set(name, { name, method, crc, compressedSize, size, dataOffset });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** An entry's content in memory: inflated if deflated, checked against its size and CRC-32. */
export async function readEntry(bytes: Bytes, entry: ZipEntry, path: string): Promise<Uint8Array> {
  const raw = await bytes.read(entry.dataOffset, entry.compressedSize);
  let data: Uint8Array = raw;
  if (entry.method === 8) {
    try {
      data = inflateRawSync(raw);
    } catch (e) {
      throw new TensorFileError(`${path}: corrupt zip: entry '${entry.name}' does not inflate: ${(e as Error).message}`);
    }
  }
  if (data.length !== entry.size) {
    throw new TensorFileError(`${path}: corrupt zip: entry '${entry.name}' is ${data.length} bytes, the directory says ${entry.size}`);
  }
  if (crc32(data) !== entry.crc) throw new TensorFileError(`${path}: corrupt zip: entry '${entry.name}' fails its CRC-32 check`);
  return data;
}
