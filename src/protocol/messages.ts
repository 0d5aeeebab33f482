/**
 * The typed wire protocol between the coordinator and its workers (threads or processes).
 * Discriminated unions only; tensors travel as TensorRef handles (threads) or shm file
 * references (processes); errors as SerializedError so their class and code survive.
 */
import type { SerializedError } from '../errors/index.ts';
import type { ModelSpec } from '../nn/spec.ts';
import type { ShardPartials, ShardSpec } from '../core/partials.ts';
import type { ShardSettings } from '../core/forward.ts';
import type { BackendName } from '../vocabulary.ts';
import type { TensorRef } from './shared-tensor.ts';

/** A job's settings as the coordinator sends them: the shards' own, and where and how workers compute. */
export interface JobSettings extends ShardSettings {
  backend: BackendName;
  /** Kernel/BLAS threads of the worker's backend (native). */
  threads: number;
  mcSamples: number;
  /**
   * Streaming: the worker writes each shard's per-sample rows to a file of its own in this
   * directory and returns references to them (src/reduce/row-spill.ts), never the rows.
   */
  spillDir?: string;
}

/** Everything about a job that does not change from shard to shard: its settings and its tensors' handles. */
export interface JobContext extends JobSettings {
  jobId: string;
  /** Identifies the model replica; a worker builds each model once and reuses it. */
  modelKey: string;
  spec: ModelSpec;
  weights: Record<string, TensorRef>;
  /** The rows held: [rowOffset, rowOffset + rows) of the batch; shard offsets are global. */
  inputs: TensorRef;
  targets: TensorRef;
  rowOffset: number;
  N: number;
  vectors?: Record<string, TensorRef>;
}

/** Compute one shard's partials. */
export interface ShardTask {
  type: 'shard';
  job: JobContext;
  shard: ShardSpec;
  /** Test hook: make the worker fail in a chosen way (never set by the CLI). */
  fault?: FaultInjection;
  /** Test hook: every attempt of this shard first works (sleeps) this many ms, as a slow shard would. */
  delayMs?: number;
  /** Thread pools: see PhaseFlag. */
  phaseFlag?: PhaseFlag;
  /**
   * Thread pools: arrays the coordinator is done with (an earlier job's merged sums, per-sample
   * rows whose results were released), transferred back for the worker's host pool, so its next
   * partials reuse their pages instead of faulting in fresh ones (~10 µs per 4 KiB here: 2c2d's
   * 26 MB of sums cost a shard ~60 ms).
   */
  spares?: (Float64Array | Float32Array)[];
}

/**
 * Full-network curvature-vector products C·v_k (GGN or Hessian) summed over one shard, for the
 * job's V stacked vectors (JobContext.vectors, [V, *θ]): the unit of work of curvature spectra and
 * traces (src/spectrum/). The reply is a ShardResult whose entries are `<param>.products` sums
 * [V, *θ] in float64.
 */
export interface ProductsTask {
  type: 'products';
  job: JobContext;
  shard: ShardSpec;
  curvature: 'ggn' | 'hessian';
  phaseFlag?: PhaseFlag;
}

/**
 * KFRA: one worker holds a group of shards and takes part in a per-layer all-reduce with the
 * other groups through a shared-memory barrier (threads) or coordinator messages (processes).
 */
export interface KfraGroupTask {
  type: 'kfra-group';
  job: JobContext;
  shards: ShardSpec[];
  group: number;
  barrier: BarrierHandle;
  phaseFlag?: PhaseFlag;
}

/**
 * Where a worker is with a task: 'received' (it has the task; a fresh worker may still be starting
 * its backend) and 'started' (backend ready, the shard's work begins). The coordinator times the
 * two apart: start-up and running each get --shard-timeout, and time queued gets none.
 */
export type TaskPhase = 'received' | 'started';

/**
 * Threads: one Int32 holding the task's phase — 0 queued, 1 received, 2 started, set by the worker
 * (with a notify); −1 once the task settled (set by the coordinator). Processes send 'phase'.
 */
export type PhaseFlag = SharedArrayBuffer;

export type BarrierHandle = SharedBarrier | { kind: 'messages'; id: string; groups: number; timeoutMs: number };

export interface SharedBarrier {
  kind: 'shared-memory';
  groups: number;
  shardsPerGroup: number;
  /** [generation, arrived, count of group 0, count of group 1, …] control words. */
  control: SharedArrayBuffer;
  /** groups × shardsPerGroup × capacity float64 contribution slots, then one result slot. */
  slots: SharedArrayBuffer;
  capacity: number;
  timeoutMs: number;
}

/**
 * `counter` holds how many more attempts of the shard to sabotage, shared by all workers that run
 * it. Callers pass a SharedArrayBuffer; the process pool, which cannot send one, counts down in the
 * parent and sends a private ArrayBuffer (see process-pool.ts).
 */
export type FaultInjection =
  | { kind: 'throw'; shardId: number; times: number; counter: SharedArrayBuffer | ArrayBuffer }
  | { kind: 'exit'; shardId: number; times: number; counter: SharedArrayBuffer | ArrayBuffer }
  | { kind: 'hang'; shardId: number; times: number; counter: SharedArrayBuffer | ArrayBuffer };

export type WorkerTask = ShardTask | KfraGroupTask | ProductsTask;

/** A shard's partials as a worker replies them: which worker computed them (for the logs and tests). */
export interface ShardResult extends ShardPartials {
  type: 'partials';
  workerId: string;
}

export interface GroupResult {
  type: 'group';
  results: ShardResult[];
  kfra: Record<number, Float64Array>;
}

export type WorkerReply = { ok: true; value: ShardResult | GroupResult } | { ok: false; error: SerializedError };

/** Process pool only: messages between a child and the coordinator besides task/reply. */
export type ChildMessage =
  | { type: 'ready'; pid: number }
  /** The child reached a phase of the task (see TaskPhase). */
  | { type: 'phase'; taskId: number; phase: TaskPhase }
  | { type: 'reply'; taskId: number; reply: WorkerReply }
  | { type: 'allreduce'; taskId: number; barrier: string; round: number; group: number; values: Float64Array[] };

export type ParentMessage =
  | { type: 'task'; taskId: number; task: WorkerTask }
  | { type: 'allreduced'; taskId: number; round: number; values: Float64Array };
