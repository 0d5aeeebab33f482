/**
 * Errors of queue mode (`backpack-ts submit | worker | status | result | cancel | dashboard`).
 * They reuse the error codes of codes.ts, so exit codes follow the CLI contract: a bad job file
 * or an oversized upload is a usage error (2), KFRA across queue shards is unsupported (4), an
 * unreachable Redis or a missing optional package is the environment (5).
 */
import { BackpackError } from './backpack-error.ts';
import { ErrorCode } from './codes.ts';

/** JOB.json does not parse, or a field is missing or out of range; the message names the JSON path. */
export class JobSpecError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'JobSpecError';
  }
}

/** A job's uploaded tensors (or its results kept in Redis) exceed the configured limit. Nothing was written. */
export class PayloadTooLargeError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'PayloadTooLargeError';
  }
}

/** A quantity cannot be split into independent queue shards (KFRA's all-reduce). */
export class NotShardableError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.UnsupportedModule, message);
    this.name = 'NotShardableError';
  }
}

/** No job with this id in this queue (never submitted, or expired). */
export class JobNotFoundError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'JobNotFoundError';
  }
}

/** The job exists but is not in a state the command needs (e.g. `result` of a running job). */
export class JobStateError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'JobStateError';
  }
}

/** The job was cancelled (`backpack-ts cancel ID`); its shards stop and are never retried. */
export class JobCancelledError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'JobCancelledError';
  }
}

/** Redis does not answer (wrong URL, password, TLS settings, or not running). */
export class RedisUnavailableError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.BackendUnavailable, message, false);
    this.name = 'RedisUnavailableError';
  }
}

/** An optional package (the dashboard's @bull-board packages) is not installed. */
export class OptionalPackageError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.BackendUnavailable, message);
    this.name = 'OptionalPackageError';
  }
}

/** Data kept in Redis for a job is missing or inconsistent (expired TTL, foreign writer). Retryable. */
export class QueueDataError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Internal, message, false);
    this.name = 'QueueDataError';
  }
}
