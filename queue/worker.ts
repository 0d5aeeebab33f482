/**
 * `backpack-ts worker`: a BullMQ worker on any host that reaches Redis, computing shards on its
 * own local pool (threads, processes, or one process per GPU). Reliability comes from BullMQ: a
 * worker that dies mid-shard loses its lock, the stalled-job check of any other worker puts the
 * shard back in the queue, and its partials are stored once (NX), so a redelivery counts once.
 * A deterministic error fails the job once (UnrecoverableError) and stops its other shards.
 */
import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import { useBackend } from '../src/backends/select.ts';
import { log } from '../src/cli/log.ts';
import { createPool } from '../src/coordinator/create-pool.ts';
import { tf } from '../src/core/tf.ts';
import type { WorkerPool } from '../src/coordinator/pool.ts';
import { UsageError } from '../src/errors/index.ts';
import { bullConnection, type ConnectionSettings } from './connection.ts';
import { QueueContext } from './context.ts';
import { failureReason, toProcessorError } from './failure.ts';
import { JobCache } from './job-cache.ts';
import { queueJobDataSchema } from './job-schema.ts';
import { runCollect, runReduce } from './reduce-processor.ts';
import { runShard } from './shard-processor.ts';
import { WorkerContext, type StopRecord, type WorkerSettings } from './worker-context.ts';

export interface QueueWorkerOptions extends WorkerSettings {
  /** Local pool: `workers` threads or processes, or one process per device. */
  workers: number;
  pool?: 'threads' | 'processes';
  devices?: number[];
  /** Queue jobs run at once by this worker (default 1: the local pool parallelises inside a shard). */
  concurrency?: number;
  /** BullMQ lock of an active job; a worker silent this long is presumed dead (default 30000). */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs of dead workers (default 30000). */
  stalledIntervalMs?: number;
  /** Redeliveries of a stalled job before it fails (default 2). */
  maxStalledCount?: number;
  /** Shown in BullMQ as the job's `processedBy` (default host:pid). */
  name?: string;
}

export interface QueueWorker {
  readonly name: string;
  readonly bull: Worker;
  readonly pool: WorkerPool;
  /** Stops taking jobs; `force` abandons the active ones (they stall and are redelivered elsewhere). */
  close(force?: boolean): Promise<void>;
}

export async function startQueueWorker(settings: ConnectionSettings, opts: QueueWorkerOptions): Promise<QueueWorker> {
  const size = opts.devices?.length ?? opts.workers;
  if (!Number.isInteger(size) || size < 1) throw new UsageError(`--workers must be at least 1 for a queue worker (the pool computes the shards), got ${size}`);
  const ctx = await QueueContext.open(settings);
  // The main thread only validates shapes (buildNetwork); the job's backend runs in the pool.
  if (!tf.getBackend()) await useBackend('wasm');
  const pool = createPool(opts.devices ? 'processes' : (opts.pool ?? 'threads'), size, opts.devices);
  const w = new WorkerContext(ctx, pool, new JobCache(ctx), opts);
  const name = opts.name ?? `${hostname()}:${process.pid}`;

  const processor = async (job: Job): Promise<unknown> => {
    const parsed = queueJobDataSchema.safeParse(job.data);
    if (!parsed.success) throw toProcessorError(new UsageError(`queue job ${job.id} has malformed data: ${parsed.error.issues[0]?.message}`));
    const d = parsed.data;
    try {
      if (d.kind === 'shard') return await runShard(w, d);
      if (d.kind === 'reduce') return await runReduce(w, job, d);
      return await runCollect(w, job, d);
    } catch (e) {
      throw toProcessorError(e);
    }
  };

  const bull = new Worker(settings.queue, processor, {
    connection: bullConnection(settings),
    prefix: settings.prefix,
    concurrency: opts.concurrency ?? 1,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    maxStalledCount: opts.maxStalledCount ?? 2,
    name,
  });
  bull.on('error', (e) => log.warn(`worker ${name}: ${e.message}`));
  bull.on('failed', (job, err) => {
    if (!job) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    log.warn(`${job.name} ${job.id} failed${final ? '' : ` (attempt ${job.attemptsMade}, will retry)`}: ${err.message}`);
    const jobId = (job.data as { jobId?: unknown }).jobId;
    if (final && typeof jobId === 'string') void stopJob(ctx, jobId, err.message);
  });
  await bull.waitUntilReady();
  log.info(`worker ${name} on queue '${settings.queue}' (prefix '${settings.prefix}') with ${size} local ${opts.devices ? 'device processes' : (opts.pool ?? 'threads')}`);

  let closing: Promise<void> | undefined;
  return {
    name,
    bull,
    pool,
    close(force = false) {
      closing ??= (async () => {
        await bull.close(force);
        await pool.close();
        await ctx.close();
      })();
      return closing;
    },
  };
}

/** Marks a job stopped after a final failure (first reason wins): its other shards fail fast. */
async function stopJob(ctx: QueueContext, jobId: string, reason: string): Promise<void> {
  const ttl = await ctx.redis.ttl(ctx.keys.desc(jobId));
  const record: StopRecord = { kind: 'failed', reason: reason.startsWith('error [') ? reason : failureReason(new Error(reason)) };
  try {
    await ctx.redis.set(ctx.keys.stop(jobId), JSON.stringify(record), 'EX', ttl > 0 ? ttl : 24 * 3600, 'NX');
  } catch (e) {
    log.warn(`job ${jobId}: could not record its failure: ${(e as Error).message}`);
  }
}
