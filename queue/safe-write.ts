/**
 * Result files a worker writes into `output.dir` (already checked by its PathPolicy). Nothing is
 * followed or replaced: the bytes go to a fresh temporary name created with
 * O_CREAT | O_EXCL | O_NOFOLLOW and are published with link(), which fails when the final name
 * exists — a planted symlink is never written through, a file that appeared is never overwritten.
 * An existing final name is accepted only when it is this job's own file from an earlier attempt
 * (a reduce retried after it had published): summary.json and the results' safetensors metadata
 * carry the job id.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PathPolicyError } from '../src/errors/queue-errors.ts';
import { encodeElements } from '../src/io/elements.ts';
import { safetensorsPrefix } from '../src/io/safetensors-stream.ts';
import { isStreamed, type ResultTensor } from '../src/io/result-tensor.ts';

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const READ = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const MAX_OWN_CHECK_BYTES = 64 * 2 ** 20;
const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;
const REFUSED = new Set(['EACCES', 'EPERM', 'EROFS', 'ELOOP', 'EEXIST', 'ENOTDIR', 'ENOENT']);

type Writer = (fh: FileHandle) => Promise<void>;

async function createAndWrite(file: string, write: Writer): Promise<void> {
  const fh = await open(file, CREATE, 0o644);
  try {
    await write(fh);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `file` exclusively; 'kept' when it already held this job's own output. */
async function writeExclusive(file: string, write: Writer, isOwn: (file: string) => Promise<boolean>, what: string): Promise<'written' | 'kept'> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const refuse = () => new PathPolicyError(`${what}: ${file} already exists (or is a symlink); a worker never overwrites or follows one`);
  try {
    await createAndWrite(tmp, write);
  } catch (e) {
    // Refused by the filesystem: no retry helps. Anything else (a full disk, an I/O error) may pass.
    if (REFUSED.has(errno(e) ?? '')) throw new PathPolicyError(`${what}: cannot create a file in ${path.dirname(file)} (${errno(e)})`);
    throw e;
  }
  try {
    await link(tmp, file);
    return 'written';
  } catch (e) {
    if (errno(e) === 'EEXIST') {
      if (await isOwn(file)) return 'kept';
      throw refuse();
    }
    // A filesystem without hard links: create the final name itself, still exclusively.
    try {
      await createAndWrite(file, write);
      return 'written';
    } catch (e2) {
      if (errno(e2) === 'EEXIST' || errno(e2) === 'ELOOP') throw refuse();
      throw new PathPolicyError(`${what}: cannot write ${file} (${errno(e2) ?? (e2 as Error).message})`);
    }
  } finally {
    await unlink(tmp).catch((e: unknown) => {
      if (errno(e) !== 'ENOENT') throw e;
    });
  }
}

/** The first `max` bytes of a regular file, opened without following a symlink (null otherwise). */
async function headOf(file: string, max: number): Promise<Buffer | null> {
  const fh = await open(file, READ).catch(() => null);
  if (!fh) return null;
  try {
    const st = await fh.stat();
    if (!st.isFile()) return null;
    const buf = Buffer.alloc(Math.min(st.size, max));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function jsonOrNull(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return null; // not JSON: not a file this job wrote
  }
}

const ownSummary = (jobId: string) => async (file: string) => {
  const head = await headOf(file, MAX_OWN_CHECK_BYTES);
  const json = head && jsonOrNull(head);
  return typeof json === 'object' && json !== null && (json as { jobId?: unknown }).jobId === jobId;
};

const ownResults = (jobId: string) => async (file: string) => {
  const head = await headOf(file, MAX_OWN_CHECK_BYTES);
  if (!head || head.length < 8) return false;
  const len = Number(head.readBigUInt64LE(0));
  if (len > head.length - 8) return false;
  const header = jsonOrNull(head.subarray(8, 8 + len)) as { __metadata__?: { job?: unknown } } | null;
  return header?.__metadata__?.job === jobId;
};

/** The safetensors layout (as src/io/safetensors-stream.ts writes it), written to an open handle tensor by tensor. */
function safetensorsWriter(tensors: Map<string, ResultTensor>, metadata: Record<string, string>): Writer {
  return async (fh) => {
    await fh.write(safetensorsPrefix(tensors, metadata));
    for (const [name, t] of tensors) {
      if (isStreamed(t)) for (const chunk of t.chunks()) await fh.write(chunk);
      else await fh.write(encodeElements(t, `tensor '${name}'`));
    }
  };
}

/** results.safetensors (metadata: format, loss, job) in a checked directory. */
export function writeResultsFile(dir: string, jobId: string, results: Map<string, ResultTensor>, loss: number, what: string): Promise<'written' | 'kept'> {
  const writer = safetensorsWriter(results, { format: 'backpack-ts', loss: String(loss), job: jobId });
  return writeExclusive(path.join(dir, 'results.safetensors'), writer, ownResults(jobId), what);
}

/** summary.json (which names the job) in a checked directory. */
export function writeSummaryFile(dir: string, jobId: string, summary: object, what: string): Promise<'written' | 'kept'> {
  const text = `${JSON.stringify(summary, null, 2)}\n`;
  return writeExclusive(path.join(dir, 'summary.json'), async (fh) => {
    await fh.write(text);
  }, ownSummary(jobId), what);
}
