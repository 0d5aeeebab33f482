/**
 * What a worker does with a task, the same in a thread, a child process or in-process: resolve the
 * job's tensors, use the cached model replica, run the shard (or a KFRA group) and return partials
 * in plain arrays (threads then transfer them, processes write them to a file: transfer.ts,
 * process-worker.ts).
 */
import { backwardShard, computeShard } from '../core/backprop.ts';
import { disposeShardState, forwardShard, type ShardRequest } from '../core/forward.ts';
import { runKfraAsync } from '../core/kfra.ts';
import { shardCurvatureProducts } from '../core/shard-products.ts';
import { UsageError } from '../errors/index.ts';
import { useBackend } from '../backends/select.ts';
import type { GroupResult, JobContext, KfraGroupTask, ProductsTask, ShardResult, ShardTask, TaskPhase } from '../protocol/messages.ts';
import { ownedHostData } from '../io/host-tensor.ts';
import { rowsOf } from '../protocol/shared-tensor.ts';
import type { ShardPartials, ShardSpec } from '../core/partials.ts';
import { spillRows } from '../reduce/row-spill.ts';
import { modelFor } from './models.ts';
import { resolveMap, resolveTensor } from './resolve.ts';
import { injectFault, sleep } from './faults.ts';
import { collectDropped, dropped } from './release-memory.ts';

/**
 * The partials as they leave the worker: when streaming, rows written to the job's spill directory
 * (only references travel). The host buffers this shard lets go of (spilled rows, the per-sample
 * gradients reduced to moments) are recorded, to be collected before the next task allocates.
 */
function handOver(p: ShardPartials, job: JobContext): ShardPartials {
  for (const e of Object.values(p.entries)) {
    if (e.kind === 'moments') dropped(e.count * (e.data.length / 2) * 4);
    else if (e.kind === 'rows' && job.spillDir) dropped(e.data.byteLength);
  }
  if (job.spillDir) return spillRows(p, job.spillDir);
  // Rows that leave this thread must be arrays it owns: a backend's view (native) is copied.
  const entries: ShardPartials['entries'] = {};
  for (const [key, e] of Object.entries(p.entries)) entries[key] = e.kind === 'rows' ? { ...e, data: ownedHostData(e.data) } : e;
  return { ...p, entries };
}

export const workerId = `${process.pid}:${Math.random().toString(36).slice(2, 8)}`;

function request(job: JobContext, shard: ShardSpec): ShardRequest {
  return {
    shardId: shard.shardId,
    inputs: resolveTensor(rowsOf(job.inputs, shard.offset - job.rowOffset, shard.count)),
    targets: resolveTensor(rowsOf(job.targets, shard.offset - job.rowOffset, shard.count)),
    offset: shard.offset,
    N: job.N,
    extensions: job.extensions,
    subsampling: job.subsampling,
    seed: job.seed,
    mcSamples: job.mcSamples,
    vectors: job.vectors ? resolveMap(job.vectors) : undefined,
    skip: job.skip,
  };
}

/**
 * `onPhase` tells the coordinator where the task is: 'received' now, 'started' once the backend is
 * ready, so a fresh (replacement) worker's backend start-up does not count as the shard's running.
 */
export async function executeShard(task: ShardTask, onPhase: (phase: TaskPhase) => void = () => {}): Promise<ShardResult> {
  onPhase('received');
  await useBackend(task.job.backend, { threads: task.job.threads });
  onPhase('started');
  collectDropped();
  if (task.delayMs) sleep(task.delayMs);
  if (task.fault) injectFault(task.fault, task.shard.shardId);
  const net = modelFor(task.job);
  const p = computeShard(net, request(task.job, task.shard));
  return { type: 'partials', ...handOver(p, task.job), workerId };
}

/** Full-network curvature-vector products over one shard (a ProductsTask): float64 sums [V, *θ] per parameter. */
export async function executeProducts(task: ProductsTask, onPhase: (phase: TaskPhase) => void = () => {}): Promise<ShardResult> {
  onPhase('received');
  await useBackend(task.job.backend, { threads: task.job.threads });
  onPhase('started');
  collectDropped();
  const net = modelFor(task.job);
  const req = request(task.job, task.shard);
  if (!req.vectors) throw new UsageError('a products task needs vectors');
  const V = req.vectors.get(net.paramNames[0])?.shape[0] ?? 0;
  const { loss, entries } = shardCurvatureProducts(net, req, req.vectors, V, task.curvature);
  return { type: 'partials', ...task.shard, loss, entries, workerId };
}

/**
 * KFRA: forward and backward every shard of the group, keep their states, then run KFRA's
 * backward pass with one all-reduce per sample-dependent layer across all groups.
 */
export async function executeKfraGroup(task: KfraGroupTask, allReduce: (local: Float64Array[]) => Promise<Float64Array>, onPhase: (phase: TaskPhase) => void = () => {}): Promise<GroupResult> {
  onPhase('received');
  await useBackend(task.job.backend, { threads: task.job.threads });
  onPhase('started');
  collectDropped();
  const net = modelFor(task.job);
  const states = task.shards.map((s) => forwardShard(net, request(task.job, s)));
  try {
    const results: ShardResult[] = states.map((st) => ({ type: 'partials', ...handOver(backwardShard(net, st), task.job), workerId }));
    const factors = await runKfraAsync(net.layers, states, task.job.N, allReduce);
    return { type: 'group', results, kfra: Object.fromEntries(factors) };
  } finally {
    states.forEach(disposeShardState);
  }
}
