/**
 * Limits and defaults of queue mode that the command line shows in its --help. Kept apart from the
 * modules that enforce them (zod schemas, Redis stores) so that defining the commands stays cheap.
 */

/** Largest Redis value of uploaded tensors, partials and results (bytes per key). */
export const MAX_CHUNK_BYTES = 128 * 2 ** 20;
/** BullMQ's priority range (0 = none; 1 is the highest). */
export const MAX_PRIORITY = 2_097_152;
/** Largest total of tensors `submit` uploads into Redis unless --max-upload says otherwise. */
export const DEFAULT_MAX_UPLOAD = 2 * 2 ** 30;
