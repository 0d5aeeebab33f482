/**
 * .gz sources are decompressed once, at open, into memory (streaming through node:zlib, so the
 * compressed file is never held whole). The gzipped formats here are MNIST-sized (≤ ~50 MB
 * unpacked); for anything larger, gunzip it once on disk and open the plain file, which streams.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { TensorFileError } from '../../errors/index.ts';
import { fileBytes, fileError, memoryBytes, type BytesOpener } from './bytes.ts';

export const isGzip = (path: string): boolean => path.toLowerCase().endsWith('.gz');

export async function gunzipFile(path: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  try {
    await pipeline(createReadStream(path), createGunzip(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) chunks.push(chunk);
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw fileError(path, e);
    throw new TensorFileError(`${path}: bad gzip data: ${(e as Error).message}`);
  }
  return Buffer.concat(chunks);
}

/** The bytes of `path`: streamed from the file, or (for .gz) from its decompressed copy in memory. */
export async function sourceBytes(path: string): Promise<BytesOpener> {
  return isGzip(path) ? memoryBytes(await gunzipFile(path), path) : fileBytes(path);
}
