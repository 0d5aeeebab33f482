/**
 * Chooses micro-shard sizes so one shard fits a worker's memory budget (--max-memory).
 * The estimate is per sample and deliberately generous: every layer's input and output, the
 * backpropagated factors (C or M stacked copies), unfolded convolution inputs, and the per-sample
 * outputs the quantities return (their host copies included). It is an upper-bound heuristic,
 * checked by measurement (test/coordinator/memory-bound.test.ts): a worker's resident memory above
 * its idle baseline stays within the budget.
 */
import { UsageError } from '../errors/index.ts';
import { BACKPROPS } from '../extensions/index.ts';
import { numel } from '../io/host-tensor.ts';
import type { Network } from '../nn/network.ts';
import { COMBINES } from '../reduce/finalize.ts';
import type { ExtensionName } from '../vocabulary.ts';

/** Working copies of an activation alive at once (input, output, gradient, temporaries). */
const TEMPORARIES = 4;

export function bytesPerSample(net: Network, extensions: ExtensionName[], mcSamples = 1): number {
  const needs = new Set(extensions.flatMap((q) => BACKPROPS[q]));
  const outputs = numel(net.outputShape);
  const stacked = (needs.has('sqrtExact') ? outputs : 0) + (needs.has('hessian') ? outputs : 0) + (needs.has('sqrtMC') ? mcSamples : 0);
  let activations = numel(net.inputShape);
  let unfolded = 0;
  for (const layer of net.layers) {
    activations += numel(layer.outShape);
    const geom = (layer.cfg as { geom?: { kernel: number[]; outSize: number[] } } | null)?.geom;
    if (geom) unfolded = Math.max(unfolded, layer.inShape[0] * numel(geom.kernel) * numel(geom.outSize));
  }
  const params = Object.values(net.paramShapes).reduce((a, s) => a + numel(s), 0);
  const rowsQuantities = extensions.filter((q) => COMBINES[q] === 'rows').length;
  const sqrtRows = extensions.filter((q) => q === 'SqrtGGNExact' || q === 'SqrtGGNMC').length * Math.max(outputs, mcSamples);
  // Per-sample gradients reduced to moments on the host: one more copy of them (shared by the two).
  const momentsCopy = extensions.some((q) => COMBINES[q] === 'moments, derived once') ? 1 : 0;
  // Per sample: the backend's per-sample gradient (1) and each host copy of per-sample values.
  const floats = TEMPORARIES * activations * (1 + stacked) + 2 * unfolded * (1 + stacked) + params * (1 + rowsQuantities + sqrtRows + momentsCopy);
  return 4 * floats;
}

/** The largest shard size under the budget (and under `requested`, if given). */
export function shardSizeFor(net: Network, extensions: ExtensionName[], maxMemoryBytes: number, requested?: number, mcSamples = 1): number {
  const per = bytesPerSample(net, extensions, mcSamples);
  const fits = Math.floor(maxMemoryBytes / per);
  if (fits < 1) {
    throw new UsageError(`--max-memory ${formatBytes(maxMemoryBytes)} is below the ~${formatBytes(per)} one sample needs for ${extensions.join(', ') || 'the gradient'}`);
  }
  return Math.max(1, Math.min(requested ?? fits, fits));
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

/**
 * Without --max-memory, shards are still cut to this working-memory estimate: a shard of 1,000
 * samples of per-sample gradients of a 1M-parameter model needs more than wasm's 4 GiB heap.
 */
export const DEFAULT_SHARD_BUDGET_BYTES = 2 * 2 ** 30;

/**
 * The shard size to use without --max-memory: an explicit `requested` size as it is; otherwise the
 * even split, unless that exceeds the default budget, then the largest size under it (at least one
 * sample). `undefined` keeps the caller's default plan.
 */
export function defaultShardSize(net: Network, extensions: ExtensionName[], requested: number | undefined, evenSplit: number, mcSamples = 1): number | undefined {
  if (requested !== undefined) return requested;
  const cap = Math.max(1, Math.floor(DEFAULT_SHARD_BUDGET_BYTES / bytesPerSample(net, extensions, mcSamples)));
  return evenSplit > cap ? cap : undefined;
}

export const formatBytes = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 10).toFixed(1)} KiB`);

/** Parses "512M", "2G", "1.5GiB", or bytes. */
export function parseMemory(option: string) {
  return (value: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(i?[bB])?$/.exec(value.trim());
    if (!m) throw new UsageError(`${option} must be a size like 512M or 2G, got '${value}'`);
    const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
    return Math.floor(Number(m[1]) * scale);
  };
}
