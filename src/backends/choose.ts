/**
 * What a command runs on: the --backend choice resolved (auto: cuda → native → wasm) and the
 * threads each worker's backend gets, announced once on stderr and recorded in summary.json.
 */
import { availableParallelism } from 'node:os';
import { log } from '../log.ts';
import { UsageError } from '../errors/index.ts';
import type { BackendName } from '../vocabulary.ts';
import { resolveBackend } from './select.ts';

export interface BackendChoice {
  backend: BackendName;
  /** The library doing the math, e.g. "OpenBLAS 0.3.21 (Haswell)". */
  library: string;
  /** Kernel/BLAS threads of each worker's backend (or of this process's, without workers). */
  threadsPerWorker: number;
}

/**
 * `workers` = 0 computes in this process. Default threads: the cores divided among the workers,
 * so workers × threads never exceeds the cores (native only; wasm and cpu are single-threaded).
 */
export async function chooseBackend(choice: string, workers: number, threadsPerWorker?: number): Promise<BackendChoice> {
  const r = await resolveBackend(choice);
  const cores = availableParallelism();
  if (threadsPerWorker !== undefined && (!Number.isInteger(threadsPerWorker) || threadsPerWorker < 1)) {
    throw new UsageError(`--threads-per-worker must be a positive integer, got ${threadsPerWorker}`);
  }
  const threads = r.backend === 'native' ? (threadsPerWorker ?? Math.max(1, Math.floor(cores / Math.max(1, workers)))) : 1;
  const where = workers === 0 ? 'in this process' : `${workers} worker${workers === 1 ? '' : 's'}`;
  log.info(`backend ${r.backend}${r.library ? ` (${r.library})` : ''}, ${where} × ${threads} thread${threads === 1 ? '' : 's'}${r.why ? ` [auto passed over ${r.why}]` : ''}`);
  return { backend: r.backend, library: r.library, threadsPerWorker: threads };
}
