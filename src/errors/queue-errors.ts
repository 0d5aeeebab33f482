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

/**
 * A record read from Redis (a BullMQ job's data, a job descriptor, a blob header, a shard's
 * partials) does not pass the checks `submit` applies: anyone who can write to Redis wrote it, so
 * the worker refuses it instead of acting on it. Deterministic: a retry reads the same record.
 */
export class QueueRecordError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'QueueRecordError';
  }
}

/** A job id outside the fixed alphabet and length (ids become Redis keys and BullMQ job ids). */
export class JobIdError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'JobIdError';
  }
}

/**
 * A path in a job lies outside the worker's --data-root / --output-root, contains `..`, passes
 * through a symlink, or names a file that appeared where the worker creates one.
 */
export class PathPolicyError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'PathPolicyError';
  }
}
