import { ErrorCode, EXIT_CODES } from './codes.ts';

/** Plain-data form of an error, safe to post between threads, processes and queue jobs. */
export interface SerializedError {
  name: string;
  code: ErrorCode;
  message: string;
  /** A deterministic error (bad input) is never retried by pools or queues. */
  deterministic: boolean;
}

/**
 * Base of every error backpack-ts raises on purpose. `deterministic` marks errors that a retry
 * cannot fix (malformed input): pools and queues fail such jobs fast instead of retrying.
 */
export class BackpackError extends Error {
  readonly code: ErrorCode;
  readonly deterministic: boolean;

  constructor(code: ErrorCode, message: string, deterministic = true) {
    super(message);
    this.name = 'BackpackError';
    this.code = code;
    this.deterministic = deterministic;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }

  toJSON(): SerializedError {
    return { name: this.name, code: this.code, message: this.message, deterministic: this.deterministic };
  }
}
