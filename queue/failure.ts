/**
 * Errors across the queue boundary. A processor's error becomes a job's failedReason string in the
 * CLI's own format, `error [CODE] Name: message`; clients parse it back into the typed error (so
 * `submit --wait` exits with the same code `run` would). Deterministic errors become BullMQ's
 * UnrecoverableError: the job fails once instead of being retried.
 *
 * A reason is stored in Redis, where anyone who can read the queue reads it: it carries one line
 * of at most MAX_REASON characters, never a stack trace (messages that name files say what is
 * wrong with them without quoting them: data-files.ts).
 */
import { UnrecoverableError } from 'bullmq';
import { BackpackError, deserializeError, ErrorCode, serializeError } from '../src/errors/index.ts';
import * as queueErrors from '../src/errors/queue-errors.ts';

const CODES = new Set<string>(Object.values(ErrorCode));
const REASON = /^error \[(E_[A-Z_]+)\] ([A-Za-z]+): ([\s\S]*)$/;
export const MAX_REASON = 1000;

/** One line, bounded: the first line of a message (a stack, if any, starts on a later line). */
export function oneLine(message: string, max = MAX_REASON): string {
  const line = message.split('\n', 1)[0].replace(/[\u0000-\u001f\u007f]/g, ' ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

export function failureReason(e: unknown): string {
  const s = serializeError(e);
  return `error [${s.code}] ${s.name}: ${oneLine(s.message)}`;
}

/**
 * A record this worker refused to act on (its payload, its id, its place in the job's plan): it
 * fails alone. Unlike a failure of the job's own data, it does not stop or clean up the job the
 * record names — a crafted record must not be a way to kill another job.
 */
export class RecordRejected extends UnrecoverableError {}

/** Redis answered WRONGTYPE: a key of ours holds another type, so someone else wrote it. */
const wrongType = (e: unknown) => e instanceof Error && e.message.startsWith('WRONGTYPE');

/** What a processor throws for `e`: UnrecoverableError when no retry can help. */
export function toProcessorError(e: unknown): Error {
  if (e instanceof UnrecoverableError) return e;
  if (wrongType(e)) return new UnrecoverableError(failureReason(new queueErrors.QueueRecordError('a key of the job holds a value of the wrong Redis type (not written by backpack-ts)')));
  const reason = failureReason(e);
  return e instanceof BackpackError && e.deterministic ? new UnrecoverableError(reason) : new Error(reason);
}

/**
 * `e` without its stack: BullMQ stores a thrown error's stack in the job's record in Redis, and
 * the stack of a worker's code is nobody's business there (the worker logs it locally).
 */
export function withoutStack<E extends Error>(e: E): E {
  e.stack = undefined;
  return e;
}

/** The rejection of a record (see RecordRejected), carrying the typed reason. */
export const rejectRecord = (e: unknown): RecordRejected => new RecordRejected(toProcessorError(e).message);

const QUEUE_CLASSES: Record<string, new (message: string) => BackpackError> = { ...queueErrors };

/** Rebuilds the typed error from a failedReason (a plain BackpackError when it is not in our format). */
export function errorFromReason(reason: string): BackpackError {
  const m = REASON.exec(reason.trim());
  if (!m || !CODES.has(m[1])) return new BackpackError(ErrorCode.Internal, reason, false);
  const [, code, name, message] = m;
  const Cls = QUEUE_CLASSES[name];
  if (Cls) return new Cls(message);
  return deserializeError({ name, code: code as ErrorCode, message, deterministic: true });
}
