/**
 * What `run` settles before it reads any data or allocates anything: the batch's shapes, from the
 * tensor files' headers, and the memory the job needs (nn/size-estimate.ts) against the budget —
 * one sample of a shard, the shard size it may use, and the outputs the coordinator holds.
 */
import { ShapeError } from '../errors/index.ts';
import type { TensorInfo } from '../io/tensor-file.ts';
import { budgetOf, fitShardSize, requireJobFits, shardBudget } from '../nn/memory-budget.ts';
import { estimateSizes } from '../nn/size-estimate.ts';
import type { ModelSpec } from '../nn/spec.ts';
import type { ExtensionName } from '../vocabulary.ts';
import { log } from './log.ts';

/** Checks inputs [N, *input_shape] and targets [N, …] from their headers; returns N. */
export function checkBatchShapes(spec: ModelSpec, inputs: TensorInfo, targets: TensorInfo, paths: { inputs: string; targets: string }): number {
  const want = `[N, ${spec.input_shape.join(', ')}]`;
  if (inputs.shape.length !== spec.input_shape.length + 1 || inputs.shape.slice(1).some((d, i) => d !== spec.input_shape[i])) {
    throw new ShapeError(`${paths.inputs}: shape [${inputs.shape.join(', ')}] does not match the model's input_shape [${spec.input_shape.join(', ')}] (expected ${want})`);
  }
  if (inputs.dtype !== 'float32' && inputs.dtype !== 'float64') throw new ShapeError(`${paths.inputs}: inputs must be float32 or float64, got ${inputs.dtype}`);
  const N = inputs.shape[0];
  if (N < 1) throw new ShapeError(`${paths.inputs}: no samples (shape [${inputs.shape.join(', ')}])`);
  if (targets.shape.length < 1) throw new ShapeError(`${paths.targets}: a 0-d tensor holds no per-sample targets; expected [${N}, …]`);
  if (targets.shape[0] !== N) throw new ShapeError(`inputs have ${N} samples but targets have ${targets.shape[0]} (${paths.targets})`);
  return N;
}

export interface MemoryRequest {
  extensions: ExtensionName[];
  N: number;
  /** Samples per result: N, or the mini-batch size without --accumulate. */
  resultN: number;
  /** The shard size the run would use (given, or the default plan: 4 per worker). */
  plannedShardSize: number;
  /** --shard-size as given. */
  shardSize?: number;
  /** --max-memory as given (undefined: the default budget). */
  maxMemory?: number;
  backend: string;
  mcSamples?: number;
  vectors?: number;
  subsampling?: number[];
}

export interface MemoryPlan {
  /** The shard size to use (undefined: the run's default split). */
  shardSize?: number;
  /** Bytes of the per-sample outputs of one result (to decide on streaming). */
  rowBytes: number;
  /** Checks the job-level outputs and what is held with them, once streaming is decided. */
  requireJobFits(streamRows: boolean, held: { what: string; bytes: number }[]): void;
}

export function planMemory(spec: ModelSpec, r: MemoryRequest): MemoryPlan {
  const estimate = estimateSizes(spec, { extensions: r.extensions, N: r.resultN, mcSamples: r.mcSamples, vectors: r.vectors, rows: r.subsampling?.length });
  const budget = budgetOf(r.maxMemory);
  const fits = fitShardSize(estimate, shardBudget(budget, r.backend), r.extensions);
  let shardSize = r.shardSize;
  // An explicit budget cuts shards to fit, as it always did; the default one only when it must.
  if (r.maxMemory !== undefined) shardSize = Math.min(r.plannedShardSize, fits);
  else if (r.plannedShardSize > fits) {
    log.info(`shards cut to ${fits} samples to fit ${budget.label}`);
    shardSize = fits;
  }
  const rowBytes = estimate.outputs.reduce((a, o) => a + (o.combines === 'rows' ? o.perJob : 0), 0);
  return {
    shardSize,
    rowBytes,
    requireJobFits: (streamRows, held) => requireJobFits(estimate, budget, { streamRows, held }),
  };
}
