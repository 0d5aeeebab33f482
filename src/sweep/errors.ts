/**
 * Errors of `backpack-ts sweep`. They reuse the codes of errors/codes.ts, so exit codes follow the
 * CLI contract: a malformed SWEEP.json or an output directory holding another sweep is a usage
 * error (2).
 */
import { BackpackError } from '../errors/backpack-error.ts';
import { ErrorCode } from '../errors/codes.ts';

/** SWEEP.json does not parse, or a field is missing or out of range; the message names the JSON path. */
export class SweepSpecError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'SweepSpecError';
  }
}

/**
 * The output directory cannot be used: it holds the progress of a different sweep (resuming it
 * would mix results), or another sweep process is writing to it.
 */
export class SweepStateError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'SweepStateError';
  }
}
