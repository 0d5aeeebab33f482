/**
 * Chooses micro-shard sizes so one shard fits a worker's memory budget (--max-memory). The numbers
 * come from nn/size-estimate.ts, the one estimate of what a job needs (the CLI and the queue refuse
 * jobs with it too); the checks and messages from nn/memory-budget.ts.
 */
import type { Network } from '../nn/network.ts';
import { budgetOf, fitShardSize } from '../nn/memory-budget.ts';
import { estimateSizes, shardBytes } from '../nn/size-estimate.ts';
import type { ExtensionName } from '../vocabulary.ts';

export { formatBytes } from '../nn/memory-budget.ts';

/** Estimated bytes of a one-sample shard. */
export function bytesPerSample(net: Network, extensions: ExtensionName[], mcSamples = 1): number {
  return shardBytes(estimateSizes(net.spec, { extensions, N: 1, mcSamples }), 1);
}

/** The largest shard size under the budget (and under `requested`, if given). */
export function shardSizeFor(net: Network, extensions: ExtensionName[], maxMemoryBytes: number, requested?: number, mcSamples = 1): number {
  const estimate = estimateSizes(net.spec, { extensions, N: requested ?? 1, mcSamples });
  return fitShardSize(estimate, budgetOf(maxMemoryBytes), extensions, requested);
}

const MiB = 2 ** 20;
/** The coordinator's own runtime: Node, the TypeScript loader, tfjs and its wasm module (measured ~230 MiB). */
export const COORDINATOR_OVERHEAD_BYTES = 256 * MiB;
/**
 * Each worker's runtime and model replica (measured ~110 MiB per thread, ~165 MiB per process),
 * with room for what the allocators keep of freed buffers (a worker measured up to ~40 MiB over B).
 */
export const WORKER_OVERHEAD_BYTES = 256 * MiB;

/**
 * The stated bound on peak resident memory of a streamed job (the whole process tree) under
 * --max-memory B on W workers (W = 1 for --workers 0): W·(B + 256 MiB) + 256 MiB. Each worker's
 * shard is cut to fit B and the worker writes its rows to disk itself; the coordinator holds sums
 * only (at most 2W + 1 shards' worth: WINDOW_PER_WORKER); the rest is runtimes. Not included: the
 * inputs, and for large models those sums (8 bytes per parameter and summed quantity, 16 for
 * Variance's moments, per shard held). Checked by test/coordinator/memory-bound.test.ts.
 */
export function residentBound(workers: number, budgetBytes: number): number {
  const w = Math.max(1, workers);
  return w * (budgetBytes + WORKER_OVERHEAD_BYTES) + COORDINATOR_OVERHEAD_BYTES;
}
