/**
 * The library's main entry: run a statistics job over one mini-batch in this process, as a
 * sequence of shards (the same partials → merge → finalise path the worker pools use).
 */
import { backwardShard, computeShard, planShards } from '../core/backprop.ts';
import type { ShardRequest } from '../core/forward.ts';
import { sliceRows } from '../core/inputs.ts';
import { disposeShardState, forwardShard } from '../core/forward.ts';
import { runKfraSync } from '../core/kfra.ts';
import { ShapeError, UnsupportedModuleError, UsageError } from '../errors/index.ts';
import { releaseHostData, type HostTensor } from '../io/host-tensor.ts';
import type { Network } from '../nn/network.ts';
import { finalize } from '../extensions/finalize.ts';
import { mergePartials, releaseMerged } from '../reduce/merge.ts';
import type { Partials, ShardPartials } from '../core/partials.ts';
import { skipKeys, skippedPairs, type Unsupported } from '../extensions/support.ts';
import type { ExtensionName } from '../vocabulary.ts';

export interface RunOptions {
  extensions: ExtensionName[];
  /** Samples per shard (default: the whole batch in one shard). */
  shardSize?: number;
  subsampling?: number[];
  seed?: number;
  mcSamples?: number;
  /** Vectors for GGNMP/HMP, keyed by parameter name, each [V, *θ]. */
  vectors?: Map<string, HostTensor>;
  /** Called after each shard. */
  onShard?: (done: number, total: number) => void;
  /**
   * Compute each quantity for every layer that supports it and list the others in `skipped`
   * (default: the first unsupported pair is an UnsupportedModuleError before anything runs).
   */
  skipUnsupported?: boolean;
}

export interface RunResult {
  loss: number;
  N: number;
  results: Map<string, HostTensor>;
  shards: number;
  timings: { computeMs: number; reduceMs: number };
  /** (layer, quantity) pairs left out under `skipUnsupported`, with the reason (absent: none). */
  skipped?: Unsupported[];
}

export function checkSubsampling(subsampling: number[] | undefined, N: number): void {
  for (const s of subsampling ?? []) {
    if (!Number.isInteger(s) || s < 0 || s >= N) throw new UsageError(`subsampling index ${s} is outside [0, ${N})`);
  }
}

export function runBatch(net: Network, inputs: HostTensor, targets: HostTensor, opts: RunOptions): RunResult {
  const N = inputs.shape[0];
  if (targets.shape[0] !== N) throw new ShapeError(`inputs have ${N} samples but targets have ${targets.shape[0]}`);
  if (N < 1) throw new UsageError('the batch is empty');
  const shardSize = opts.shardSize ?? N;
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new UsageError(`--shard-size must be a positive integer, got ${opts.shardSize}`);
  checkSubsampling(opts.subsampling, N);
  if (opts.extensions.includes('KFRA')) requireSequentialForKfra(net);
  const skipped = skippedPairs(net.spec, opts.extensions, opts.skipUnsupported);
  const skip = skipKeys(skipped);
  const plan = planShards(N, shardSize);
  const t0 = performance.now();
  const requests: ShardRequest[] = plan.map((s, shardId) => ({
    shardId,
    inputs: sliceRows(inputs, s.offset, s.count),
    targets: sliceRows(targets, s.offset, s.count),
    offset: s.offset,
    N,
    extensions: opts.extensions,
    subsampling: opts.subsampling,
    seed: opts.seed ?? 0,
    mcSamples: opts.mcSamples,
    vectors: opts.vectors,
    skip,
  }));
  let partials: ShardPartials[];
  let kfraFactors: Map<number, Float64Array> | null = null;
  if (opts.extensions.includes('KFRA')) {
    // KFRA averages over the whole batch at every layer: keep every shard's forward state.
    const states = requests.map((r) => forwardShard(net, r));
    try {
      partials = states.map((st, i) => {
        const p = backwardShard(net, st);
        opts.onShard?.(i + 1, plan.length);
        return p;
      });
      kfraFactors = runKfraSync(net.layers, states, N);
    } finally {
      states.forEach(disposeShardState);
    }
  } else {
    partials = requests.map((r, i) => {
      const p = computeShard(net, r);
      opts.onShard?.(i + 1, plan.length);
      return p;
    });
  }
  const t1 = performance.now();
  const merged = mergePartials(partials, { adopt: true });
  if (kfraFactors) addKfraFactors(net, merged, kfraFactors);
  const results = finalize(merged, { N, paramNames: net.paramNames, extensions: opts.extensions, subsampling: opts.subsampling, reduction: net.loss.reduction, skip });
  releaseMerged(partials, merged);
  return { loss: merged.loss, N, results, shards: plan.length, timings: { computeMs: t1 - t0, reduceMs: performance.now() - t1 }, skipped };
}

/**
 * Gives a result's memory back at once, for a caller done with it (a loop over batches): on the
 * native backend per-sample rows are views of the backend's memory, reused by the next run when
 * returned here instead of after a garbage collection — fresh pages cost ~10 µs per 4 KiB on
 * our VMs, more than the 120 MB of an MLP's BatchGrad takes to compute — and so are the views'
 * ArrayBuffers (new ones start V8's collector). The result must not be read afterwards: its
 * arrays then show what later runs write (never freed memory).
 */
export function releaseResults(result: Pick<RunResult, 'results'>): void {
  for (const t of result.results.values()) releaseHostData(t.data);
}

/** Adds KFRA's B (computed by the collective) to the merged partials of each parametric layer. */
export function addKfraFactors(net: Network, merged: Partials, factors: Map<number, Float64Array>): void {
  for (const [index, data] of factors) {
    const d = Math.round(Math.sqrt(data.length));
    const layer = net.layers[index];
    for (const param of Object.keys(layer.params)) merged.entries[`${layer.name}.${param}.kfra.0`] = { kind: 'sum', shape: [d, d], data };
  }
}

/** KFRA's matrix recursion has no exact form through merges (cross terms between branches). */
export function requireSequentialForKfra(net: Network): void {
  if (!net.sequential) throw new UnsupportedModuleError('KFRA', 'graph models with merges', "its batch-averaged GGN recursion is defined for chains; at a branch point the branches' cross terms have no Kronecker-averaged form");
}
