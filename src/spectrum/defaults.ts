/** Defaults of `backpack-ts spectrum` that its --help shows, apart from the modules that use them (cheap to load). */

/** Samples per shard of a curvature-product pass. */
export const DEFAULT_SHARD_SIZE = 32;
/** Rows read and placed for the workers at a time. */
export const DEFAULT_BATCH_SIZE = 1024;
export const TRACE_METHODS = ['hutchinson', 'hutchpp'] as const;
