/**
 * Errors across the queue boundary. A processor's error becomes a job's failedReason string in the
 * CLI's own format, `error [CODE] Name: message`; clients parse it back into the typed error (so
 * `submit --wait` exits with the same code `run` would). Deterministic errors become BullMQ's
 * UnrecoverableError: the job fails once instead of being retried.
 */
import { UnrecoverableError } from 'bullmq';
import { BackpackError, deserializeError, ErrorCode, serializeError } from '../src/errors/index.ts';
import * as queueErrors from '../src/errors/queue-errors.ts';

const CODES = new Set<string>(Object.values(ErrorCode));
const REASON = /^error \[(E_[A-Z_]+)\] ([A-Za-z]+): ([\s\S]*)$/;

export function failureReason(e: unknown): string {
  const s = serializeError(e);
  return `error [${s.code}] ${s.name}: ${s.message}`;
}

/** What a processor throws for `e`: UnrecoverableError when no retry can help. */
export function toProcessorError(e: unknown): Error {
  if (e instanceof UnrecoverableError) return e;
  const reason = failureReason(e);
  return e instanceof BackpackError && e.deterministic ? new UnrecoverableError(reason) : new Error(reason);
}

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
