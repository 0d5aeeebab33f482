import { createProcessPool } from './process-pool.ts';
import type { WorkerPool } from './pool.ts';
import { createThreadPool } from './thread-pool.ts';

/** A pool of `size` workers; with `devices`, one process per device. */
export function createPool(kind: 'threads' | 'processes', size: number, devices?: number[]): WorkerPool {
  return kind === 'threads' ? createThreadPool(size) : createProcessPool(size, devices);
}
