import { BackpackError, type SerializedError } from './backpack-error.ts';
import { closestName } from './closest-name.ts';
import { ErrorCode } from './codes.ts';

export { BackpackError, type SerializedError } from './backpack-error.ts';
export { ErrorCode, EXIT_CODES } from './codes.ts';

/** A command-line option or library argument is missing or out of range. */
export class UsageError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'UsageError';
  }
}

/** model.json does not parse or does not describe a valid network. */
export class ModelSpecError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.ModelSpec, message);
    this.name = 'ModelSpecError';
  }
}

/** Two shapes that must agree do not; the message names both. */
export class ShapeError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Shape, message);
    this.name = 'ShapeError';
  }
}

/** A parameter is missing from the weights file, or has the wrong shape or dtype. */
export class WeightsError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.Weights, message);
    this.name = 'WeightsError';
  }
}

/** A .npy / .safetensors file is truncated, malformed or of an unsupported dtype. */
export class TensorFileError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.TensorFile, message);
    this.name = 'TensorFileError';
  }
}

/** A class label lies outside [0, C). */
export class LabelRangeError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.LabelRange, message);
    this.name = 'LabelRangeError';
  }
}

/** NaN or ±Inf where finite numbers are required. */
export class NonFiniteError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.NonFinite, message);
    this.name = 'NonFiniteError';
  }
}

export class UnknownExtensionError extends BackpackError {
  constructor(name: string, valid: readonly string[]) {
    const guess = closestName(name, valid);
    super(ErrorCode.UnknownExtension, `unknown extension '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}; valid extensions: ${valid.join(', ')}`);
    this.name = 'UnknownExtensionError';
  }
}

/**
 * A job needs more memory than its budget (--max-memory): refused from the spec's sizes before
 * anything is allocated; the message names the layer or quantity and the size.
 */
export class MemoryBudgetError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.MemoryBudget, message);
    this.name = 'MemoryBudgetError';
  }
}

/** A quantity has no rule for a module (the rule table says so explicitly). */
export class UnsupportedModuleError extends BackpackError {
  constructor(quantity: string, module: string, why = '') {
    super(ErrorCode.UnsupportedModule, `${quantity} is not supported for ${module}${why ? `: ${why}` : ''}`);
    this.name = 'UnsupportedModuleError';
  }
}

/** BatchNorm in train mode couples the samples of a batch, so per-sample quantities are undefined. */
export class TrainModeError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.TrainMode, message);
    this.name = 'TrainModeError';
  }
}

export class BackendUnavailableError extends BackpackError {
  constructor(message: string) {
    super(ErrorCode.BackendUnavailable, message, false);
    this.name = 'BackendUnavailableError';
  }
}

const CLASSES: Record<string, new (message: string) => BackpackError> = {
  UsageError,
  ModelSpecError,
  ShapeError,
  WeightsError,
  TensorFileError,
  LabelRangeError,
  NonFiniteError,
  MemoryBudgetError,
  TrainModeError,
  BackendUnavailableError,
};

/** Classes whose constructors take more than a message: rebuilt by prototype. */
const BY_PROTOTYPE: Record<string, { prototype: BackpackError }> = { UnsupportedModuleError, UnknownExtensionError };

/** Rebuilds an error that crossed a thread/process/queue boundary, keeping its class and code. */
export function deserializeError(e: SerializedError): BackpackError {
  const Proto = BY_PROTOTYPE[e.name];
  if (Proto) {
    const err = new BackpackError(e.code, e.message, e.deterministic);
    Object.setPrototypeOf(err, Proto.prototype);
    err.name = e.name;
    return err;
  }
  const Cls = CLASSES[e.name];
  const err = Cls ? new Cls(e.message) : new BackpackError(e.code, e.message, e.deterministic);
  if (!Cls) err.name = e.name;
  return err;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof BackpackError) return e.toJSON();
  const message = e instanceof Error ? e.message : String(e);
  return { name: 'Error', code: ErrorCode.Internal, message, deterministic: false };
}
