/**
 * Full-network curvature-vector products over a whole data set on a worker pool: every batch's
 * shards run as 'products' tasks (with the job's retries and timeouts), and their float64 sums
 * are added into one running sum per parameter in global shard order — never arrival order — so
 * the result depends on the shard plan only, not on the pool's kind or size.
 */
import type { Curvature } from '../core/curvature-products.ts';
import { checkedInputs, checkTargets } from '../core/inputs.ts';
import { productSums } from '../core/shard-products.ts';
import { BackpackError, ErrorCode } from '../errors/index.ts';
import { numel, type HostTensor } from '../io/host-tensor.ts';
import type { Network } from '../nn/network.ts';
import type { ProductsTask, ShardResult } from '../protocol/messages.ts';
import { batchShards, type SpectrumData } from '../spectrum/data.ts';
import type { BackendName } from '../vocabulary.ts';
import { dispatch } from './dispatch.ts';
import { runInOrder } from './in-order.ts';
import { modelKey, prepareJob } from './job-context.ts';
import type { WorkerPool } from './pool.ts';
import { WINDOW_PER_WORKER } from './run-job.ts';

export interface PoolProductsOptions {
  curvature: Curvature;
  shardSize: number;
  backend: BackendName;
  /** Kernel/BLAS threads of each worker's backend (default 1). */
  threads?: number;
  seed?: number;
  retries?: number;
  shardTimeoutMs?: number;
  onRetry?: (what: string, attempt: number, reason: string) => void;
}

export interface ProductSums {
  /** `<param>` → Σ over all samples of C·v_k, [V, *θ] vector-major, float64. */
  sums: Map<string, Float64Array>;
  /** ρ·Σ_n ℓ_n over all samples: the loss of the whole set as one batch. */
  loss: number;
  shards: number;
}

/**
 * C·v_k for the V stacked vectors (`vectors`: `<param>` → float32 [V, *θ]) over every sample of
 * `data`. `net` is the network built from `weights` (for names, shapes and input checks).
 */
export async function poolProducts(pool: WorkerPool, net: Network, weights: Map<string, HostTensor>, data: SpectrumData, vectors: Map<string, HostTensor>, opts: PoolProductsOptions): Promise<ProductSums> {
  const V = vectors.get(net.paramNames[0])!.shape[0];
  const sums = new Map(net.paramNames.map((name) => [name, new Float64Array(V * numel(net.paramShapes[name]))]));
  const key = modelKey(net.spec, weights);
  let loss = 0;
  let shardCount = 0;
  const jobAbort = new AbortController();
  for await (const b of data.batches()) {
    checkedInputs(b.inputs, net.inputShape, 'inputs', b.offset);
    checkTargets(net, b.targets, b.offset);
    const shards = batchShards(b, opts.shardSize, shardCount);
    const { job, cleanup } = prepareJob(pool.kind, { spec: net.spec, weights, inputs: b.inputs, targets: b.targets, vectors }, {
      backend: opts.backend, threads: opts.threads ?? 1, extensions: [], seed: opts.seed ?? 0, mcSamples: 1,
    }, key, { N: data.N, rowOffset: b.offset });
    try {
      await runInOrder(shards.length, WINDOW_PER_WORKER * pool.size, async (i) => {
        const task: ProductsTask = { type: 'products', job, shard: shards[i], curvature: opts.curvature };
        const what = `products shard ${shards[i].shardId}`;
        try {
          return (await dispatch(pool, task, what, {
            timeoutMs: opts.shardTimeoutMs ?? 0, retries: opts.retries ?? 2, jobSignal: jobAbort.signal,
            onRetry: (attempt, reason) => opts.onRetry?.(what, attempt, reason),
          })) as ShardResult;
        } catch (e) {
          jobAbort.abort(); // stop this product's other shards; the pool keeps serving
          throw e;
        }
      }, (_i, r) => {
        loss += r.loss;
        for (const name of net.paramNames) addInto(sums.get(name)!, productSums(r, name), name);
      });
    } finally {
      cleanup();
    }
    shardCount += shards.length;
  }
  return { sums, loss, shards: shardCount };
}

function addInto(sum: Float64Array, data: Float64Array, name: string): void {
  if (data.length !== sum.length) throw new BackpackError(ErrorCode.Internal, `a products shard returned ${data.length} values for '${name}', not ${sum.length}`, false);
  for (let j = 0; j < sum.length; j++) sum[j] += data[j];
}
