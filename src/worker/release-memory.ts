/**
 * Gives big dead ArrayBuffers (a shard's rows once written to disk or sent on, a host copy of the
 * per-sample gradients once reduced to moments) back to the OS before the next shard allocates its
 * own. V8 frees a dead buffer only at its next garbage collection, and external memory alone
 * triggers one late: several shards' rows of garbage per isolate made a pool's resident memory a
 * multiple of its budget (measured: 1.3 GB for 2 threads at --max-memory 256M). So a worker
 * records what it drops (dropped()) and, at the start of its next task — when nothing of the last
 * one is referenced any more — runs a full collection once 64 MiB have accumulated (milliseconds
 * on these small heaps, at most once per shard).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const EVERY_BYTES = 64 * 2 ** 20;
let pending = 0;
let collect: (() => void) | undefined;

function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  // NOTE: the flag only affects contexts created after it is set: a fresh context carries gc().
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Records `bytes` of buffers this isolate has just let go of. */
export function dropped(bytes: number): void {
  pending += bytes;
}

/** Before a task allocates: collects garbage if enough was dropped since the last collection. */
export function collectDropped(): void {
  if (pending < EVERY_BYTES) return;
  pending = 0;
  collect ??= collector();
  collect();
}
