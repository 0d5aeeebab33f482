/** What the benchmark's processes report to bench/run.ts, and what its report is built from. */

/** The ten quantities of ../shared/anchors.md, in its column order: the comparison tables. */
export const ANCHOR_QUANTITIES = ['grad', 'BatchGrad', 'BatchL2Grad', 'SumGradSquared', 'Variance', 'DiagGGNExact', 'DiagGGNMC', 'KFAC', 'KFLR', 'DiagHessian'] as const;

/** Targets: ours / BackPACK per cell, and the geometric mean of that ratio per table. */
export const CELL_TARGET = 1.0;
export const GEOMEAN_TARGET = 0.7;

export type Cores = 1 | 2;

/** One way of running a cell, timed: median of the timed runs after the warm-ups. */
export interface Timing {
  medianMs: number;
  minMs: number;
  runs: number;
  warmups: number;
  /** Median process CPU time per run (user + system, every thread of the process) and its system part. */
  cpuMs: number;
  sysMs: number;
  /** Medians of the run's own split: shards (forward + extended backward) and merge + finalise. */
  computeMs: number;
  reduceMs: number;
  /** Growth of tf.memory().numTensors (this thread) over the timed runs. */
  leakedTensors: number;
}

/** In-process: one runBatch on this thread's backend with `threads` kernel threads. */
export interface InProcessTiming extends Timing {
  threads: number;
  shardSize?: number;
  shards: number;
}

/** On a pool: runJobOnPool over createPool('threads', workers), `threadsPerWorker` kernel threads each. */
export interface PoolTiming extends Timing {
  workers: number;
  threadsPerWorker: number;
  shardSize: number;
  shards: number;
}

export interface KernelShare {
  name: string;
  ms: number;
  calls: number;
}

/** Where one run of a cell spent its time, per kernel (bench/kernel-timer.ts). */
export interface CellProfile {
  /** What was profiled, e.g. "in-process runBatch, 1 thread". */
  what: string;
  runMs: number;
  kernelMs: number;
  top: KernelShare[];
  /** The heaviest kernels by name and input shapes. */
  topShapes: KernelShare[];
}

export interface OurCell {
  quantity: string;
  cores: Cores;
  inProcess?: InProcessTiming;
  pool?: PoolTiming;
  /** The faster of the variants measured: what the tables show. */
  best: 'inProcess' | 'pool';
  medianMs: number;
  cpuMs: number;
  peakRssMB: number;
  profile?: CellProfile;
  /** Why a variant was not measured (e.g. it failed while the other ran). */
  variantNote?: string;
}

/** A cell that did not produce a number: why (decided from sizes, or the failure seen at run time). */
export interface NotRun {
  quantity: string;
  cores: Cores;
  notRun: string;
  kind: 'size' | 'failed';
}

export type Cell = OurCell | NotRun;
export const ran = (c: Cell | undefined): c is OurCell => !!c && !('notRun' in c);

export interface ProcessMeta {
  numParams: number;
  rssAfterLoadMB: number;
}

/** Our side of one (problem, N, cores): one child process (more after a failed cell). */
export interface OurBlock extends ProcessMeta {
  problem: string;
  N: number;
  cores: Cores;
  backend: string;
  peakRssMB: number;
  processes: number;
  cells: Cell[];
  wallS: number;
}

export interface BackpackCell {
  quantity: string;
  medianMs?: number;
  runs?: number;
  cpuMs?: number;
  /** Peak RSS of the python process so far (ru_maxrss), after this cell. */
  peakRssMB?: number;
  error?: string;
}

export interface BackpackMeta {
  torch?: string;
  backpack?: string;
  threads?: number;
  blas?: string;
  mkldnn?: boolean;
  allocator?: string;
  python?: string;
}

/** BackPACK's side of one (problem, N, threads). */
export interface BackpackBlock {
  problem: string;
  N: number;
  threads: Cores;
  meta?: BackpackMeta;
  cells: BackpackCell[];
  peakRssMB: number;
  processes: number;
  wallS: number;
  /** The whole block failed (python died before any cell, …). */
  error?: string;
}

/** One (problem, N): both sides, both core counts, in the order they ran. */
export interface ProblemRun {
  problem: string;
  N: number;
  ours: Partial<Record<Cores, OurBlock>>;
  backpack: Partial<Record<Cores, BackpackBlock>>;
  loadStart: number;
  loadEnd: number;
  /** The order the processes ran in, e.g. ["BackPACK 1 thread", "ours 1 core", …]. */
  order: string[];
  /** Side by side (bench/turns.ts): per cores and side, wall ms of its turns and the CPU ms the other side used meanwhile. */
  turns?: Partial<Record<Cores, Record<string, { turnMs: number; othersCpuMs: number }>>>;
}

/** Tagged lines of bench/ours.ts on stdout. */
export const META_TAG = '@@BENCH_META ';
export const CELL_TAG = '@@BENCH_CELL ';
export const TICK_TAG = '@@BENCH_TICK ';
export const DONE_TAG = '@@BENCH_DONE ';
/** The 2-core cell's in-process variant, before its pool variant runs: { quantity, inProcess, peakRssMB }. */
export const PART_TAG = '@@BENCH_PART ';
/** A profile-only child's line per quantity: `{ quantity, profile }`. */
export const PROFILE_TAG = '@@BENCH_PROFILE ';

/** How many runs a cell gets, on both sides alike (bench/run.ts: --warmups … --max-runs). */
export interface CellRuns {
  warmups: number;
  minWarmupS: number;
  maxWarmups: number;
  repeats: number;
  minCellS: number;
  maxCellS: number;
  maxRuns: number;
}

/** What bench/run.ts asks of one bench/ours.ts child. */
export interface ChildSpec extends CellRuns {
  backend: string;
  problem: string;
  N: number;
  cores: Cores;
  quantities: string[];
  maxRssGB: number;
  /** BackPACK's medians for this (problem, N, cores), when measured: cells slower than it get profiled. */
  backpackMs?: Record<string, number>;
  profile: boolean;
  /** Every run inside a turn lent by the parent (bench/turns.ts): BackPACK runs beside this process. */
  turns?: boolean;
  /** Only the profiled runs of `quantities` (PROFILE_TAG lines), nothing timed: the paired bench's cells over target. */
  profileOnly?: boolean;
}

