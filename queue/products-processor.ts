/**
 * A products session's shard on this worker (see queue/spectrum-session.ts): reads the pass's
 * vectors, multiplies them with the session's GGN or Hessian over the shard's samples as ONE local
 * 'products' task (never split further: a queue shard is exactly one shard of the local plan, so
 * its float64 sums are bit for bit what a local pool computes for it), and stores the sums. A shard
 * already stored (a redelivery) is not computed again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { checkVectors } from '../src/api/vectors.ts';
import { log } from '../src/cli/log.ts';
import { poolProducts } from '../src/coordinator/run-products.ts';
import { QueueRecordError } from '../src/errors/queue-errors.ts';
import { numel } from '../src/io/host-tensor.ts';
import { buildNetwork, disposeNetwork } from '../src/nn/network.ts';
import type { SpectrumData } from '../src/spectrum/data.ts';
import type { LoadedJob } from './job-cache.ts';
import type { QueueJobData } from './job-schema.ts';
import { passVectors } from './keys.ts';
import { readProducts, storeProducts } from './products-store.ts';
import { getTensors } from './tensor-store.ts';
import type { WorkerContext } from './worker-context.ts';

export type ProductsData = Extract<QueueJobData, { kind: 'products' }>;

export async function runProductsShard(w: WorkerContext, job: LoadedJob, d: ProductsData): Promise<{ pass: number; shard: number }> {
  const { ctx } = w;
  const { desc } = job;
  const label = `job ${d.jobId} pass ${d.pass} shard ${d.shard}`;
  const session = desc.products;
  if (!session) throw new QueueRecordError(`${label}: not a products session`);
  const net = buildNetwork(job.spec, job.weights);
  try {
    const names = net.paramNames;
    const sizes = names.map((n) => numel(net.paramShapes[n]));
    const vectors = checkVectors(await getTensors(ctx.redis, ctx.keys.tensor(d.jobId, passVectors(d.pass))), net.paramShapes, `${label}: vectors`);
    const V = vectors.get(names[0])!.shape[0];
    const key = ctx.keys.partial(d.jobId, d.pass, d.shard);
    const where = { pass: d.pass, shard: d.shard, offset: d.offset, count: d.count, V, names };
    if (await readProducts(ctx.redis, key, { ...where, sizes })) return { pass: d.pass, shard: d.shard };
    const t0 = performance.now();
    log.info(`${label}: started (${d.count} samples × ${V} vectors)`);
    const start = desc.batches[0].start + d.offset;
    const inputs = await job.rows('inputs', start, d.count);
    const targets = await job.rows('targets', start, d.count);
    // The shard as the whole "data" of one local products job: N is the session's, offsets global.
    const data: SpectrumData = { N: desc.N, batchSize: d.count, batches: async function* () { yield { inputs, targets, offset: start }; } };
    const r = await w.untilStopped(d.jobId, async (signal) => {
      // Test hook (--debug-shard-delay), as for shards of submitted jobs: a worker busy this long.
      if (w.opts.debugShardDelayMs) await sleep(w.opts.debugShardDelayMs, undefined, { signal });
      return poolProducts(w.pool, net, job.weights, data, vectors, {
      curvature: session.curvature, shardSize: d.count, backend: desc.backend, seed: desc.seed,
      retries: w.opts.retries, shardTimeoutMs: w.opts.shardTimeoutMs,
      onRetry: (what, attempt, reason) => log.warn(`${label}: ${what}: retry ${attempt} after: ${reason}`),
      });
    });
    await storeProducts(ctx.redis, key, { ...where, loss: r.loss }, r.sums, { ttlSeconds: desc.ttlSeconds, chunkBytes: w.opts.chunkBytes, registry: ctx.keys.blobs(d.jobId) });
    log.info(`${label}: done in ${(performance.now() - t0).toFixed(0)} ms`);
    return { pass: d.pass, shard: d.shard };
  } finally {
    disposeNetwork(net);
  }
}
