/**
 * Every error code backpack-ts can raise, with the process exit code it maps to.
 * The same strings travel in worker messages, queue payloads and CLI output.
 */
export const ErrorCode = {
  Usage: 'E_USAGE',
  ModelSpec: 'E_MODEL_SPEC',
  Shape: 'E_SHAPE',
  Weights: 'E_WEIGHTS',
  TensorFile: 'E_TENSOR_FILE',
  LabelRange: 'E_LABEL_RANGE',
  NonFinite: 'E_NON_FINITE',
  UnknownExtension: 'E_UNKNOWN_EXTENSION',
  MemoryBudget: 'E_MEMORY_BUDGET',
  UnsupportedModule: 'E_UNSUPPORTED_MODULE',
  TrainMode: 'E_TRAIN_MODE',
  BackendUnavailable: 'E_BACKEND_UNAVAILABLE',
  Internal: 'E_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Exit codes: 2 = the command line, 3 = an input file or spec, 4 = unsupported, 5 = environment, 1 = bug.
 * A job over the memory budget is 2: what fixes it is on the command line (--max-memory, a
 * smaller --shard-size or --mc-samples), or a smaller model.
 */
export const EXIT_CODES: Record<ErrorCode, number> = {
  E_USAGE: 2,
  E_MODEL_SPEC: 3,
  E_SHAPE: 3,
  E_WEIGHTS: 3,
  E_TENSOR_FILE: 3,
  E_LABEL_RANGE: 3,
  E_NON_FINITE: 3,
  E_UNKNOWN_EXTENSION: 2,
  E_MEMORY_BUDGET: 2,
  E_UNSUPPORTED_MODULE: 4,
  E_TRAIN_MODE: 4,
  E_BACKEND_UNAVAILABLE: 5,
  E_INTERNAL: 1,
};
