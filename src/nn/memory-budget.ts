/**
 * The memory budget (--max-memory) and the checks that hold a job to it, from size-estimate.ts's
 * numbers: one sample must fit a shard's budget, shards are cut to fit, and the outputs the
 * coordinator holds must fit too. Every refusal is a MemoryBudgetError naming the layer or the
 * quantity and the sizes, raised before anything is read or allocated.
 */
import { totalmem } from 'node:os';
import { MemoryBudgetError } from '../errors/index.ts';
import type { ExtensionName } from '../vocabulary.ts';
import { estimateSizes, shardBytes, type SizeEstimate } from './size-estimate.ts';
import type { ModelSpec } from './spec.ts';

/** Share of this machine's memory a job may plan for when --max-memory is not given. */
export const DEFAULT_MEMORY_SHARE = 0.5;

/** NOTE: a wasm32 heap ends at 4 GiB whatever the machine has; past it tfjs-wasm corrupts tensors. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

export interface Budget {
  bytes: number;
  /** How messages name it: "--max-memory 512.0 MiB", or the default with its origin. */
  label: string;
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

export function formatBytes(b: number): string {
  if (!Number.isFinite(b) || b >= 2 ** 70) return 'more than 1024 EiB';
  let unit = 0;
  let v = b / 2 ** 10;
  while (v >= 1024 && unit < UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${v.toFixed(1)} ${UNITS[unit]}`;
}

/** The budget given on the command line, or the default share of physical memory. */
export function budgetOf(maxMemory?: number): Budget {
  if (maxMemory !== undefined) return { bytes: maxMemory, label: `--max-memory ${formatBytes(maxMemory)}` };
  const bytes = Math.floor(DEFAULT_MEMORY_SHARE * totalmem());
  return { bytes, label: `the memory budget ${formatBytes(bytes)} (default: ${DEFAULT_MEMORY_SHARE * 100}% of this machine's memory; set --max-memory)` };
}

/** One shard's budget on a backend: the wasm heap caps it. */
export function shardBudget(budget: Budget, backend: string | undefined): Budget {
  if (backend !== 'wasm' || budget.bytes <= WASM_HEAP_BYTES) return budget;
  return { bytes: WASM_HEAP_BYTES, label: `the wasm backend's ${formatBytes(WASM_HEAP_BYTES)} heap` };
}

/** "~1.5 GiB", or "more than 1024 EiB" (no tilde on a bound). */
const about = (b: number) => {
  const f = formatBytes(b);
  return f.startsWith('more') ? f : `~${f}`;
};

const what = (extensions: readonly ExtensionName[]) => extensions.join(', ') || 'the gradient';

/**
 * The largest shard size (≤ `requested`, if given) whose estimate fits the budget. Refuses when
 * not even one sample fits, naming the node that needs the most.
 */
export function fitShardSize(e: SizeEstimate, budget: Budget, extensions: readonly ExtensionName[], requested?: number): number {
  const fits = Math.floor((budget.bytes - e.perShard) / e.perSample);
  if (!(fits >= 1)) {
    const d = e.dominant;
    const fixed = e.perShard > budget.bytes / 2 ? `, plus ${formatBytes(e.perShard)} per shard (parameters, summed outputs)` : '';
    throw new MemoryBudgetError(
      `${budget.label} is below the ${about(shardBytes(e, 1))} one sample needs for ${what(extensions)}: ` +
      `${d.where} with output [${d.outShape.join(', ')}] needs ${formatBytes(d.need)} per sample ` +
      `(largest tensor ${formatBytes(d.largest)})${fixed}`,
    );
  }
  return Math.max(1, Math.min(requested ?? fits, fits));
}

/** Something the coordinator holds for the whole job, for the job-level check. */
export interface Held {
  what: string;
  bytes: number;
}

/**
 * The whole job's outputs (and what else is listed in `held`, e.g. the inputs) must fit the
 * budget. Per-sample rows count unless they are streamed to disk as shards arrive.
 */
export function requireJobFits(e: SizeEstimate, budget: Budget, opts: { streamRows: boolean; held?: Held[] }): void {
  const parts: Held[] = [...(opts.held ?? [])];
  for (const o of e.outputs) {
    if (o.combines === 'rows' && opts.streamRows) continue;
    // A sum is held as float64 partials (the merge and the shard arriving) and a float32 result:
    // 5× its float32 size; rows as the shards' float32 rows and the result: 2×.
    parts.push({ what: o.quantity, bytes: o.combines === 'rows' ? 2 * o.perJob : 5 * o.perJob });
  }
  const total = parts.reduce((a, p) => a + p.bytes, 0);
  if (total <= budget.bytes) return;
  const largest = [...parts].sort((a, b) => b.bytes - a.bytes).slice(0, 3);
  throw new MemoryBudgetError(
    `the job needs ${about(total)} for its inputs and outputs, more than ${budget.label}; ` +
    `largest: ${largest.map((p) => `${p.what} ${formatBytes(p.bytes)}`).join(', ')}`,
  );
}

/** What a queue job asks for, as `submit` and the workers know it. */
export interface JobSizeRequest {
  extensions: readonly ExtensionName[];
  /** Samples per result (a mini-batch's size, or the whole dataset's). */
  N: number;
  mcSamples?: number;
  vectors?: number;
  rows?: number;
  backend?: string;
  /** --max-memory of this process (undefined: the default share of its memory). */
  maxMemory?: number;
}

const estimateOf = (spec: ModelSpec, r: JobSizeRequest) =>
  estimateSizes(spec, { extensions: r.extensions, N: r.N, mcSamples: r.mcSamples, vectors: r.vectors, rows: r.rows });

/**
 * Queue `submit`: refuses a job that no worker with this budget could run — one sample of a
 * shard, or the outputs its reducer holds (with `held`: what else is kept, e.g. the inputs).
 */
export function requireJobRunnable(spec: ModelSpec, r: JobSizeRequest, held: Held[] = []): void {
  const e = estimateOf(spec, r);
  const budget = budgetOf(r.maxMemory);
  fitShardSize(e, shardBudget(budget, r.backend), r.extensions);
  requireJobFits(e, budget, { streamRows: false, held });
}

/** Queue worker: a shard of `n` samples on one local worker must fit this worker's budget. */
export function requireShardFits(spec: ModelSpec, r: JobSizeRequest, n: number): void {
  const e = estimateOf(spec, r);
  const budget = shardBudget(budgetOf(r.maxMemory), r.backend);
  const fits = fitShardSize(e, budget, r.extensions);
  if (fits < n) {
    throw new MemoryBudgetError(
      `a shard of ${n} samples needs ${about(shardBytes(e, n))} for ${what(r.extensions)}, more than ${budget.label} of this worker ` +
      `(${fits} would fit); submit the job with a smaller options.shardSize, or give the worker more --workers or --max-memory`,
    );
  }
}
