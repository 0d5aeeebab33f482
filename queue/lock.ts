/**
 * A queue job's BullMQ lock across synchronous work. BullMQ renews the locks of active jobs from a
 * timer on the main thread; while the pool computes a shard the main thread is free and the
 * renewal runs (however long the shard). Merging and finalising a batch's partials, though, run on
 * the main thread in one synchronous stretch that no timer can interrupt, so before such a stretch
 * the lock is extended explicitly to SYNC_LOCK_FACTOR × --lock-duration: a stretch up to that long
 * is not mistaken for a dead worker. (A worker that dies inside it is then presumed dead that much
 * later; the stalled check still recovers its job.) The same holds before a shard loads its job's
 * tensors the first time (parsing a large .npy from a data root is synchronous too).
 */
import type { Job } from 'bullmq';
import { log } from '../src/log.ts';
import type { WorkerContext } from './worker-context.ts';

export const SYNC_LOCK_FACTOR = 4;
export const DEFAULT_LOCK_MS = 30_000;

/** Extends the job's lock before a synchronous stretch of work. */
export async function holdLockFor(w: WorkerContext, job: Job, token: string | undefined): Promise<void> {
  if (!token) return;
  const ok = await job.extendLock(token, (w.opts.lockDurationMs ?? DEFAULT_LOCK_MS) * SYNC_LOCK_FACTOR);
  if (!ok) log.warn(`${job.name} ${job.id}: could not extend its lock (lost to a stalled check?)`);
}

/** Test hook (--debug-sync-block): holds the main thread for `ms`, as a long synchronous merge would. */
export function debugBlockMainThread(w: WorkerContext): void {
  if (w.opts.debugSyncBlockMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, w.opts.debugSyncBlockMs);
}
