/**
 * Random access to a source's bytes: a file (positional reads on one descriptor, nothing else
 * loaded) or a buffer in memory (a gunzipped IDX file, an inflated .npz entry, parsed CSV).
 * Headers and rows are read through this one interface, so every reader streams the same way.
 */
import { TensorFileError } from '../../errors/index.ts';
import { openRegularFile, readExactly } from '../../io/bounded-read.ts';

export interface Bytes {
  /** Total length in bytes. */
  readonly size: number;
  /** Exactly `length` bytes from `position`, in a fresh buffer (offset 0, so typed views align). */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Opens a source anew. Each `batches()` iteration opens its own and closes it when the loop ends
 * (or breaks), so a Dataset holds no descriptor between epochs.
 */
export type BytesOpener = () => Promise<Bytes>;

/** A file error as a TensorFileError that starts with the path. */
export function fileError(path: string, e: unknown): TensorFileError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new TensorFileError(`${path}: file not found`);
  return new TensorFileError(`${path}: cannot read: ${code ?? (e as Error).message}`);
}

export function fileBytes(path: string): BytesOpener {
  return async () => {
    // Regular files only: a link to /dev/zero has no end, a FIFO would block (io/bounded-read.ts).
    const error = (message: string) => new TensorFileError(message);
    const file = await openRegularFile(path, error);
    return {
      size: file.size,
      async read(position, length) {
        // A short read (the file shrank since its header was checked) is an error, not zeros.
        const out = new Uint8Array(length);
        await readExactly(file, out, position, path, error);
        return out;
      },
      close: () => file.handle.close(),
    };
  };
}

export function memoryBytes(buffer: Uint8Array, label: string): BytesOpener {
  const bytes: Bytes = {
    size: buffer.length,
    async read(position, length) {
      if (position + length > buffer.length) {
        throw new TensorFileError(`${label}: truncated: wanted bytes [${position}, ${position + length}), data ends at ${buffer.length}`);
      }
      // NOTE: copy via the constructor; Buffer#slice would return a view into the shared pool.
      return new Uint8Array(buffer.subarray(position, position + length));
    },
    close: async () => undefined,
  };
  return async () => bytes;
}

/** Opens, runs `f`, closes: for reading headers at open time. */
export async function withBytes<T>(opener: BytesOpener, f: (bytes: Bytes) => Promise<T>): Promise<T> {
  const bytes = await opener();
  try {
    return await f(bytes);
  } finally {
    await bytes.close();
  }
}
