/**
 * .gz sources are decompressed once, at open, into memory (streaming through node:zlib, so the
 * compressed file is never held whole). The gzipped formats here are MNIST-sized (≤ ~50 MB
 * unpacked); for anything larger, gunzip it once on disk and open the plain file, which streams.
 */
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { TensorFileError } from '../../errors/index.ts';
import { openRegularFile } from '../../io/bounded-read.ts';
import { fileBytes, fileError, memoryBytes, type BytesOpener } from './bytes.ts';

export const isGzip = (path: string): boolean => path.toLowerCase().endsWith('.gz');

/** Decompressed bytes held in memory at most: a few bytes of gzip can claim gigabytes. */
export const MAX_GUNZIPPED_BYTES = 2 * 2 ** 30;

export async function gunzipFile(path: string): Promise<Uint8Array> {
  // Regular files only (io/bounded-read.ts): a FIFO would block the stream, /dev/zero never end.
  const { handle } = await openRegularFile(path, (message) => new TensorFileError(message));
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    await pipeline(handle.createReadStream(), createGunzip(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        total += chunk.length;
        if (total > MAX_GUNZIPPED_BYTES) throw new TensorFileError(`${path}: decompresses to more than ${MAX_GUNZIPPED_BYTES} bytes; gunzip it on disk and open the plain file, which streams`);
        chunks.push(chunk);
      }
    });
  } catch (e) {
    if (e instanceof TensorFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw fileError(path, e);
    throw new TensorFileError(`${path}: bad gzip data: ${(e as Error).message}`);
  } finally {
    await handle.close();
  }
  return Buffer.concat(chunks);
}

/** The bytes of `path`: streamed from the file, or (for .gz) from its decompressed copy in memory. */
export async function sourceBytes(path: string): Promise<BytesOpener> {
  return isGzip(path) ? memoryBytes(await gunzipFile(path), path) : fileBytes(path);
}
