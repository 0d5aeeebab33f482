/**
 * What a worker does with a task, the same in a thread and in a child process: resolve the job's
 * tensors, use the cached model replica, run the shard (or a KFRA group) and return partials.
 */
import { backwardShard, computeShard } from '../core/backprop.ts';
import { disposeShardState, forwardShard, type ShardRequest } from '../core/forward.ts';
import { runKfraAsync } from '../core/kfra.ts';
import { useBackend } from '../backends/select.ts';
import type { GroupResult, JobContext, KfraGroupTask, ShardResult, ShardSpec, ShardTask } from '../protocol/messages.ts';
import { rowsOf, sharedFloat32, sharedFloat64 } from '../protocol/shared-tensor.ts';
import type { ShardPartials } from '../reduce/partials.ts';
import { modelFor } from './models.ts';
import { resolveMap, resolveTensor } from './resolve.ts';
import { injectFault, sleep } from './faults.ts';

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
  };
}

/**
 * Moves partial data into shared memory, so posting the result to the coordinator thread clones
 * only handles. (Process workers send files instead; the extra copy is then harmless.)
 */
function shared(p: ShardPartials): ShardPartials {
  const entries: ShardPartials['entries'] = {};
  for (const [key, e] of Object.entries(p.entries)) {
    if (e.kind === 'sum') entries[key] = { ...e, data: sharedFloat64(e.data) };
    else if (e.kind === 'rows') entries[key] = { ...e, data: sharedFloat32(e.data) };
    else entries[key] = e;
  }
  return { ...p, entries };
}

/**
 * `onStarted` tells the coordinator the shard is running: called once the backend is ready, so a
 * fresh (replacement) worker's backend start-up does not count against the shard's timeout.
 */
export async function executeShard(task: ShardTask, onStarted: () => void = () => {}): Promise<ShardResult> {
  await useBackend(task.job.backend);
  onStarted();
  if (task.delayMs) sleep(task.delayMs);
  if (task.fault) injectFault(task.fault, task.shard.shardId);
  const net = modelFor(task.job);
  const p = computeShard(net, request(task.job, task.shard));
  return { type: 'partials', ...shared(p), workerId };
}

/**
 * KFRA: forward and backward every shard of the group, keep their states, then run KFRA's
 * backward pass with one all-reduce per sample-dependent layer across all groups.
 */
export async function executeKfraGroup(task: KfraGroupTask, allReduce: (local: Float64Array[]) => Promise<Float64Array>, onStarted: () => void = () => {}): Promise<GroupResult> {
  await useBackend(task.job.backend);
  onStarted();
  const net = modelFor(task.job);
  const states = task.shards.map((s) => forwardShard(net, request(task.job, s)));
  try {
    const results: ShardResult[] = states.map((st) => ({ type: 'partials', ...shared(backwardShard(net, st)), workerId }));
    const factors = await runKfraAsync(net.layers, states, task.job.N, allReduce);
    return { type: 'group', results, kfra: Object.fromEntries(factors) };
  } finally {
    states.forEach(disposeShardState);
  }
}
