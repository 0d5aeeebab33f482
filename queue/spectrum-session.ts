/**
 * Curvature spectra over the queue: a products session is a queue job with no quantities whose
 * data (weights, inputs, targets) is uploaded once; each pass of the Krylov methods uploads its
 * vectors and enqueues one 'products' record per shard, which any `backpack-ts worker` computes
 * (queue/products-processor.ts). The session waits for every shard's float64 sums and adds them in
 * shard order, starting from zero — the summation of the local pools (src/coordinator/
 * run-products.ts) — so with the same shard plan the spectrum is bitwise the local one.
 *
 *   const session = await QueueProductsSession.open(ctx, net, weights, inputs, targets, { curvature: 'ggn', shardSize: 32, backend: 'wasm' });
 *   try { const r = await runSpectrum(session, plan); } finally { await session.close(); }
 */
import type { Curvature } from '../src/core/curvature-products.ts';
import { planShards } from '../src/core/backprop.ts';
import { checkedInputs, checkTargets } from '../src/core/inputs.ts';
import { UsageError } from '../src/errors/index.ts';
import { QueueDataError } from '../src/errors/queue-errors.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import type { Network } from '../src/nn/network.ts';
import type { CurvatureOperator } from '../src/spectrum/curvature-operator.ts';
import { parameterLayout } from '../src/spectrum/curvature-operator.ts';
import type { BackendName } from '../src/vocabulary.ts';
import type { QueueContext } from './context.ts';
import { checkDescriptor, type JobDescriptor } from './descriptor.ts';
import { deleteWholeJob } from './job-data.ts';
import { newJobId } from './job-id.ts';
import type { QueueJobData } from './job-schema.ts';
import { passVectors, productsJobId } from './keys.ts';
import { readProducts } from './products-store.ts';
import { deleteBlob, putTensors } from './tensor-store.ts';
import { readStopRecord } from './worker-context.ts';

export interface QueueSessionOptions {
  curvature: Curvature;
  shardSize: number;
  backend: BackendName;
  seed?: number;
  /** Vectors per pass at most (default 16). */
  vectorsPerPass?: number;
  /** Lifetime of the session's keys in Redis (default one day; renewed by nothing: long runs set more). */
  ttlSeconds?: number;
  /** How often a pass looks for finished shards (default 20 ms). */
  pollMs?: number;
}

const DEFAULT_TTL = 24 * 3600;

export class QueueProductsSession implements CurvatureOperator {
  passes = 0;
  loss = NaN;
  readonly dim: number;
  private readonly layout: ReturnType<typeof parameterLayout>;

  private constructor(private readonly ctx: QueueContext, readonly jobId: string, private readonly desc: JobDescriptor, net: Network, private readonly opts: QueueSessionOptions) {
    this.layout = parameterLayout(net);
    this.dim = this.layout.reduce((a, p) => a + p.size, 0);
  }

  /** Checks the data against the model, uploads it and writes the session's descriptor. */
  static async open(ctx: QueueContext, net: Network, weights: Map<string, HostTensor>, inputs: HostTensor, targets: HostTensor, opts: QueueSessionOptions): Promise<QueueProductsSession> {
    const N = inputs.shape[0];
    if (targets.shape[0] !== N) throw new UsageError(`inputs have ${N} samples but targets have ${targets.shape[0]}`);
    if (!Number.isInteger(opts.shardSize) || opts.shardSize < 1) throw new UsageError(`shardSize must be a positive integer, got ${opts.shardSize}`);
    checkedInputs(inputs, net.inputShape, 'inputs');
    checkTargets(net, targets);
    const jobId = newJobId();
    const { keys, redis } = ctx;
    const ttl = opts.ttlSeconds ?? DEFAULT_TTL;
    const desc: JobDescriptor = {
      v: 1, jobId, name: 'spectrum', createdAt: Date.now(), spec: net.spec, extensions: [], backend: opts.backend, seed: opts.seed ?? 0, mcSamples: 1,
      tensors: { weights: { kind: 'redis', key: keys.tensor(jobId, 'weights') }, inputs: { kind: 'redis', key: keys.tensor(jobId, 'inputs') }, targets: { kind: 'redis', key: keys.tensor(jobId, 'targets') } },
      N, accumulate: false, batches: [{ batch: 0, start: 0, N, shards: planShards(N, opts.shardSize) }], output: { redis: true }, ttlSeconds: ttl,
      products: { curvature: opts.curvature },
    };
    checkDescriptor(JSON.parse(JSON.stringify(desc)), jobId, keys);
    const session = new QueueProductsSession(ctx, jobId, desc, net, opts);
    try {
      const put = (name: string, t: Map<string, HostTensor>) => putTensors(redis, keys.tensor(jobId, name), t, { ttlSeconds: ttl, registry: keys.blobs(jobId) });
      await put('weights', weights);
      await put('inputs', new Map([['inputs', inputs]]));
      await put('targets', new Map([['targets', targets]]));
      await redis.set(keys.desc(jobId), JSON.stringify(desc), 'EX', ttl);
      await redis.multi()
        .hset(keys.meta(jobId), { jobId, name: 'spectrum', createdAt: desc.createdAt, N, batches: 1, shardsTotal: desc.batches[0].shards.length, shardsDone: 0, samplesDone: 0, priority: 0, outputDir: '', outputRedis: 1 })
        .expire(keys.meta(jobId), ttl)
        .exec();
    } catch (e) {
      await session.close();
      throw e;
    }
    return session;
  }

  async apply(xs: Float64Array[]): Promise<Float64Array[]> {
    const out: Float64Array[] = [];
    const perPass = this.opts.vectorsPerPass ?? 16;
    for (let first = 0; first < xs.length; first += perPass) out.push(...(await this.pass(xs.slice(first, first + perPass))));
    return out;
  }

  /** One pass: upload the vectors, enqueue every shard, add the shards' sums in shard order. */
  private async pass(chunk: Float64Array[]): Promise<Float64Array[]> {
    const { ctx, jobId, desc } = this;
    const pass = this.passes++;
    const V = chunk.length;
    const vectorsKey = ctx.keys.tensor(jobId, passVectors(pass));
    const vectors = new Map(this.layout.map((p) => {
      const data = new Float32Array(V * p.size);
      chunk.forEach((x, k) => data.set(x.subarray(p.offset, p.offset + p.size), k * p.size));
      return [p.name, { dtype: 'float32', shape: [V, ...p.shape], data } as HostTensor];
    }));
    await putTensors(ctx.redis, vectorsKey, vectors, { ttlSeconds: desc.ttlSeconds, registry: ctx.keys.blobs(jobId) });
    const shards = desc.batches[0].shards;
    await ctx.queue.addBulk(shards.map((s, shard) => {
      const data: QueueJobData = { kind: 'products', jobId, pass, shard, offset: s.offset, count: s.count };
      return {
        name: 'products', data,
        opts: { jobId: productsJobId(jobId, pass, shard), attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: { age: desc.ttlSeconds } },
      };
    }));
    const names = this.layout.map((p) => p.name);
    const sizes = this.layout.map((p) => p.size);
    const sums = new Map(this.layout.map((p) => [p.name, new Float64Array(V * p.size)]));
    let loss = 0;
    for (const [shard, s] of shards.entries()) {
      const key = ctx.keys.partial(jobId, pass, shard);
      await this.waitFor(key, productsJobId(jobId, pass, shard));
      const got = await readProducts(ctx.redis, key, { pass, shard, offset: s.offset, count: s.count, V, names, sizes });
      if (!got) throw new QueueDataError(`products session ${jobId}: the sums of pass ${pass} shard ${shard} vanished (expired TTL?)`);
      loss += got.loss;
      for (const name of names) {
        const sum = sums.get(name)!;
        const part = got.sums.get(name)!;
        for (let j = 0; j < sum.length; j++) sum[j] += part[j];
      }
      await deleteBlob(ctx.redis, key);
    }
    await deleteBlob(ctx.redis, vectorsKey);
    this.loss = loss;
    return chunk.map((_, k) => {
      const y = new Float64Array(this.dim);
      for (const p of this.layout) y.set(sums.get(p.name)!.subarray(k * p.size, (k + 1) * p.size), p.offset);
      return y;
    });
  }

  /** Until the shard's sums are stored; throws when its record failed for good or the session was stopped. */
  private async waitFor(key: string, bullId: string): Promise<void> {
    const poll = this.opts.pollMs ?? 20;
    for (let i = 0; ; i++) {
      if (await this.ctx.redis.exists(key)) return;
      // Every ~50 polls (a second by default): ask whether the record failed or the session stopped.
      if (i % 50 === 49) {
        const stop = await readStopRecord(this.ctx, this.jobId);
        if (stop) throw new QueueDataError(`products session ${this.jobId} stopped: ${stop.reason}`);
        const job = await this.ctx.queue.getJob(bullId);
        if (job && (await job.getState()) === 'failed' && job.attemptsMade >= (job.opts.attempts ?? 1)) {
          throw new QueueDataError(`products session ${this.jobId}: ${bullId} failed: ${job.failedReason}`);
        }
      }
      await new Promise((r) => setTimeout(r, poll));
    }
  }

  /** Removes everything the session wrote to Redis. */
  async close(): Promise<void> {
    await deleteWholeJob(this.ctx, this.jobId);
  }
}
