/** A result as the writers take it: in memory, or produced piece by piece (streamed from spill files). */
import type { HostTensor } from './host-tensor.ts';

/**
 * A result produced piece by piece (rows read back from spill files) instead of held in memory.
 * A chunk is valid until the next is requested (the buffer is reused): consume or copy it first.
 */
export interface StreamedTensor {
  dtype: 'float32';
  shape: number[];
  chunks(): Iterable<Float32Array>;
}

export type ResultTensor = HostTensor | StreamedTensor;

export const isStreamed = (t: ResultTensor): t is StreamedTensor => 'chunks' in t;
