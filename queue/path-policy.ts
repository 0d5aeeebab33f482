/**
 * What a queue worker may read and write on its host. A job record is data that anyone who can
 * write to Redis controls, so paths in it are refused unless the operator allowed them:
 * `--data-root DIR` (repeatable) for `"tensors": "paths"` jobs, `--output-root DIR` for
 * `output.dir`. Without the flags a worker touches no path at all (uploaded tensors and results
 * kept in Redis still work). A path is refused when it is not absolute and normalised, lies
 * outside every root, or passes through a symlink anywhere below its root; a file is opened with
 * O_NOFOLLOW and checked, after opening, to be the regular file the path names.
 *
 * NOTE: Node has no openat(), so the walk below checks each component and then verifies the open
 * file's identity; a local user who can write inside a root could still race a directory swap
 * between the two for directories. Roots must be writable only by trusted users (docs/queue.md).
 */
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { TensorFileError, UsageError } from '../src/errors/index.ts';
import { PathPolicyError } from '../src/errors/queue-errors.ts';
import { isPlainAbsolutePath } from './descriptor.ts';

export interface PathRoots {
  /** Directories `"paths"` jobs may read from (--data-root). */
  dataRoots?: readonly string[];
  /** Directory under which `output.dir` may lie (--output-root). */
  outputRoot?: string;
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

async function checkedRoot(dir: string, option: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(path.resolve(dir));
  } catch (e) {
    throw new UsageError(`${option} ${dir}: cannot resolve it (${errno(e) ?? (e as Error).message})`);
  }
  if (!(await stat(real)).isDirectory()) throw new UsageError(`${option} ${dir}: not a directory`);
  return real;
}

const inside = (root: string, p: string) => p === root || p.startsWith(root === path.sep ? root : `${root}${path.sep}`);

export class PathPolicy {
  private constructor(readonly dataRoots: readonly string[], readonly outputRoot: string | undefined) {}

  /** Roots resolved once, at start (a root may itself be reached through a symlink the operator chose). */
  static async create(o: PathRoots = {}): Promise<PathPolicy> {
    const data = await Promise.all((o.dataRoots ?? []).map((d) => checkedRoot(d, '--data-root')));
    const out = o.outputRoot === undefined ? undefined : await checkedRoot(o.outputRoot, '--output-root');
    return new PathPolicy(data, out);
  }

  /** The data root holding `p`; PathPolicyError when none does (or `p` is not a plain absolute path). */
  checkData(p: string, what: string): string {
    if (this.dataRoots.length === 0) throw new PathPolicyError(`${what}: ${p} is a path, and this worker reads no paths (start it with --data-root DIR to allow "tensors": "paths" jobs under DIR)`);
    if (!isPlainAbsolutePath(p)) throw new PathPolicyError(`${what}: ${p} is not an absolute path without . or .. segments`);
    const root = this.dataRoots.find((r) => inside(r, p) && r !== p);
    if (!root) throw new PathPolicyError(`${what}: ${p} lies outside this worker's --data-root (${this.dataRoots.join(', ')})`);
    return root;
  }

  /** The output root, when `dir` lies in it; PathPolicyError otherwise. */
  checkOutput(dir: string, what: string): string {
    if (this.outputRoot === undefined) throw new PathPolicyError(`${what}: this worker writes no files (start it with --output-root DIR to allow output.dir under DIR)`);
    if (!isPlainAbsolutePath(dir)) throw new PathPolicyError(`${what}: ${dir} is not an absolute path without . or .. segments`);
    if (!inside(this.outputRoot, dir)) throw new PathPolicyError(`${what}: ${dir} lies outside this worker's --output-root (${this.outputRoot})`);
    return this.outputRoot;
  }

  /** The bytes of a data file, read through an O_NOFOLLOW descriptor after the checks above. */
  async readData(p: string, what: string): Promise<Uint8Array> {
    const root = this.checkData(p, what);
    await refuseSymlinks(root, path.dirname(p), what);
    let fh: FileHandle;
    try {
      // O_NONBLOCK: a FIFO planted under the root must not hang the worker in open().
      fh = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      if (errno(e) === 'ENOENT') throw new TensorFileError(`${p}: file not found`);
      if (errno(e) === 'ELOOP') throw new PathPolicyError(`${what}: ${p} is a symlink; a worker never follows one`);
      throw new TensorFileError(`${p}: cannot read: ${errno(e) ?? 'error'}`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new PathPolicyError(`${what}: ${p} is not a regular file`);
      await sameFile(p, st, what);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  /** Creates `dir` (and its parents up to the output root) refusing any symlink on the way. */
  async makeOutputDir(dir: string, what: string): Promise<void> {
    const root = this.checkOutput(dir, what);
    let at = root;
    for (const part of path.relative(root, dir).split(path.sep).filter(Boolean)) {
      at = path.join(at, part);
      try {
        await mkdir(at);
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw new PathPolicyError(`${what}: cannot create ${at} (${errno(e) ?? 'error'})`);
      }
      const st = await lstat(at);
      if (st.isSymbolicLink()) throw new PathPolicyError(`${what}: ${at} is a symlink; a worker never writes through one`);
      if (!st.isDirectory()) throw new PathPolicyError(`${what}: ${at} is not a directory`);
    }
  }
}

/** Every directory from below `root` down to `dir` is a real directory, not a symlink. */
async function refuseSymlinks(root: string, dir: string, what: string): Promise<void> {
  let at = root;
  for (const part of path.relative(root, dir).split(path.sep).filter(Boolean)) {
    at = path.join(at, part);
    let st: Stats;
    try {
      st = await lstat(at);
    } catch (e) {
      if (errno(e) === 'ENOENT') throw new TensorFileError(`${at}: directory not found`);
      throw new PathPolicyError(`${what}: cannot inspect ${at} (${errno(e) ?? 'error'})`);
    }
    if (st.isSymbolicLink()) throw new PathPolicyError(`${what}: ${at} is a symlink; a worker never follows one`);
    if (!st.isDirectory()) throw new PathPolicyError(`${what}: ${at} is not a directory`);
  }
}

/** The open file is the one `p` names now, through no symlink (catches a swap during the walk). */
async function sameFile(p: string, opened: Stats, what: string): Promise<void> {
  const real = await realpath(p).catch(() => null);
  const now = real === p ? await stat(p).catch(() => null) : null;
  if (!now || now.dev !== opened.dev || now.ino !== opened.ino) throw new PathPolicyError(`${what}: ${p} changed while it was opened (a symlink or a swapped directory); refused`);
}
