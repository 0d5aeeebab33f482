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
