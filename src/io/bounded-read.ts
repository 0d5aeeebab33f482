/**
 * Reading input files without trusting them: only regular files are read (a link to /dev/zero
 * would stream zeros forever, a FIFO would block the open), sizes come from fstat on the open
 * descriptor (never from the name, so a file swapped after the check is still the one measured),
 * and bytes land in buffers of the size the caller decided from a validated header.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { BackpackError } from '../errors/index.ts';

/** Builds the typed error a reader throws (TensorFileError, ModelSpecError, JobSpecError…). */
export type ErrorFactory = (message: string) => BackpackError;

export interface OpenedFile {
  handle: FileHandle;
  /** Bytes, from fstat of the open descriptor. */
  size: number;
}

/** What a non-regular file is, for the message. */
function kindOf(stat: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Explains an errno of open/read as a typed error that starts with the path. */
export function fileError(path: string, e: unknown, error: ErrorFactory): BackpackError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return error(`${path}: file not found`);
  if (code === 'EISDIR') return error(`${path}: is a directory, not a file`);
  return error(`${path}: cannot read: ${code ?? (e as Error).message}`);
}

/**
 * Opens `path` for reading and refuses anything but a regular file. NOTE: O_NONBLOCK makes the
 * open of a FIFO return at once (so it can be refused) instead of waiting for a writer; on a
 * regular file it changes nothing.
 */
export async function openRegularFile(path: string, error: ErrorFactory): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw fileError(path, e, error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw error(`${path}: ${kindOf(stat)}, not a regular file; only regular files are read`);
    return { handle, size: stat.size };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/**
 * Fills `into` from `position`. A short read means the file shrank after fstat: an error, never
 * a buffer left partly zero.
 */
export async function readExactly(file: OpenedFile, into: Uint8Array, position: number, path: string, error: ErrorFactory): Promise<void> {
  let got = 0;
  while (got < into.length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await file.handle.read(into, got, into.length - got, position + got));
    } catch (e) {
      throw fileError(path, e, error);
    }
    if (bytesRead === 0) throw error(`${path}: truncated: wanted bytes [${position}, ${position + into.length}), file ends at ${position + got}`);
    got += bytesRead;
  }
}

/** Opens, runs `f`, always closes. */
export async function withRegularFile<T>(path: string, error: ErrorFactory, f: (file: OpenedFile) => Promise<T>): Promise<T> {
  const file = await openRegularFile(path, error);
  try {
    return await f(file);
  } finally {
    await file.handle.close();
  }
}

/** A whole small file (model.json, JOB.json) as UTF-8, refused above `maxBytes`. */
export function readSmallTextFile(path: string, maxBytes: number, error: ErrorFactory): Promise<string> {
  return withRegularFile(path, error, async (file) => {
    if (file.size > maxBytes) throw error(`${path}: ${file.size} bytes, more than the ${maxBytes} this file may have`);
    const bytes = new Uint8Array(file.size);
    await readExactly(file, bytes, 0, path, error);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw error(`${path}: not valid UTF-8 text`);
    }
  });
}
