/**
 * The output directory, made ready before any computation: an --out that is a file, unwritable,
 * or holds a special file where a result goes fails in milliseconds, not after the whole job.
 * NOTE: directories are created one level at a time, never with mkdir's `recursive`: Node's
 * recursive mkdir loops forever on paths such as /proc/foo (ENOENT for a parent that exists).
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors/index.ts';
import { log } from './log.ts';

/** Names a run writes (and the temporary names it writes them under). */
const OUTPUT_FILE = /^(results\.safetensors(\.partial)?|summary\.json)$/;
const BATCH_DIR = /^batch-\d{5,}$/;

export interface PreparedOut {
  dir: string;
  /** Removes the directories this call created, if they are still empty (after a failed run). */
  discard(): Promise<void>;
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

async function statOrNull(p: string) {
  try {
    return await stat(p);
  } catch (e) {
    // ENOTDIR: a parent is a file; walking up finds it and names it.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new UsageError(`--out ${p}: cannot inspect: ${errno(e)}`);
  }
}

/** Creates the missing directories of `dir`, top down; returns those it created. */
async function createDirs(dir: string, label: string): Promise<string[]> {
  const missing: string[] = [];
  for (let p = dir; ; p = path.dirname(p)) {
    const s = await statOrNull(p);
    if (s) {
      if (!s.isDirectory()) throw new UsageError(`--out ${label}: ${p} exists and is not a directory`);
      break;
    }
    missing.unshift(p);
    if (path.dirname(p) === p) break;
  }
  const created: string[] = [];
  for (const p of missing) {
    try {
      await mkdir(p);
    } catch (e) {
      await removeEmpty(created);
      throw new UsageError(`--out ${label}: cannot create ${p}: ${errno(e)}`);
    }
    created.push(p);
  }
  return created;
}

async function removeEmpty(dirs: string[]): Promise<void> {
  for (const d of [...dirs].reverse()) {
    await rmdir(d).catch((e: NodeJS.ErrnoException) => {
      // Not empty (something was written after all) or already gone: it stays, by design.
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST' && e.code !== 'ENOENT') log.warn(`could not remove ${d}: ${e.code ?? e.message}`);
    });
  }
}

/**
 * Writes and removes a probe file: the real test of writability (permissions, read-only mounts,
 * pseudo file systems). O_NONBLOCK and O_NOFOLLOW: never wait on, or write through, what is there.
 */
async function probe(dir: string, label: string): Promise<void> {
  const file = path.join(dir, `.backpack-ts-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  try {
    const handle = await open(file, flags, 0o600);
    try {
      await handle.write(new Uint8Array([0]));
    } finally {
      await handle.close();
    }
    await unlink(file);
  } catch (e) {
    throw new UsageError(`--out ${label}: cannot write there: ${errno(e)}`);
  }
}

/** What is already in the directory where a result will go must be a plain file (or a batch directory). */
async function checkExisting(dir: string, label: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const isFile = OUTPUT_FILE.test(name);
    if (!isFile && !BATCH_DIR.test(name)) continue;
    const s = await lstat(path.join(dir, name));
    if (isFile ? !s.isFile() : !s.isDirectory()) {
      throw new UsageError(`--out ${label}: ${path.join(dir, name)} exists and is not a ${isFile ? 'regular file' : 'directory'}; results would be written there`);
    }
  }
}

export async function prepareOutDir(out: string): Promise<PreparedOut> {
  // path.resolve('') is the working directory: an empty --out is a mistake, not a request for it.
  if (out.trim() === '') throw new UsageError('--out must name a directory, got an empty string');
  const dir = path.resolve(out);
  const created = await createDirs(dir, out);
  try {
    await probe(dir, out);
    await checkExisting(dir, out);
  } catch (e) {
    await removeEmpty(created);
    throw e;
  }
  return { dir, discard: () => removeEmpty(created) };
}
