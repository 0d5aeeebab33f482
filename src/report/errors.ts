/** Errors of `backpack-ts report`, on the codes of errors/codes.ts (exit 2: usage, 5: environment). */
import { BackpackError } from '../errors/backpack-error.ts';
import { ErrorCode } from '../errors/codes.ts';

/** RESULTS_DIR is not the output of `run` or `sweep`, or an option names something it does not hold. */
export class ReportInputError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'ReportInputError';
  }
}

/** PNGs were demanded (--png yes) but no headless Chromium (or playwright-core) can render them. */
export class RasterizerUnavailableError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.BackendUnavailable, message);
    this.name = 'RasterizerUnavailableError';
  }
}
