/**
 * `backpack-ts worker`: a BullMQ worker on any host that reaches Redis, computing shards on its
 * own local pool (threads, processes, or one process per GPU). Reliability comes from BullMQ: a
 * worker that dies mid-shard loses its lock, the stalled-job check of any other worker puts the
 * shard back in the queue, and its partials are stored once (NX), so a redelivery counts once.
 * A deterministic error fails the job once (UnrecoverableError), stops its other shards and frees
 * its tensors and partials.
 *
 * Nothing in Redis is trusted: every record is checked before it is acted on (queue-job.ts,
 * descriptor.ts, partials-store.ts, tensor-store.ts), and paths go through the worker's
 * PathPolicy (--data-root, --output-root).
 */
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { useBackend } from '../src/backends/select.ts';
import { log } from '../src/log.ts';
import { createPool } from '../src/coordinator/create-pool.ts';
import { tf } from '../src/core/tf.ts';
import type { WorkerPool } from '../src/coordinator/pool.ts';
import { BackpackError, UsageError } from '../src/errors/index.ts';
import { bullConnection, type ConnectionSettings } from './connection.ts';
import { QueueContext } from './context.ts';
import { failureReason, oneLine, RecordRejected, rejectRecord, toProcessorError, withoutStack } from './failure.ts';
import { JobCache } from './job-cache.ts';
import type { QueueJobData } from './job-schema.ts';
import { deleteJobData } from './job-data.ts';
import { isJobId } from './job-id.ts';
import { markFailed } from './job-state.ts';
import { DEFAULT_LOCK_MS, holdLockFor } from './lock.ts';
import { PathPolicy, type PathRoots } from './path-policy.ts';
import { checkInPlan, checkJobRecord } from './queue-job.ts';
import { runCollect, runReduce } from './reduce-processor.ts';
import { runShard } from './shard-processor.ts';
import { runProductsShard } from './products-processor.ts';
import { WorkerContext, type StopRecord, type WorkerSettings } from './worker-context.ts';

export interface QueueWorkerOptions extends WorkerSettings, PathRoots {
  /** Local pool: `workers` threads or processes, or one process per device. */
  workers: number;
  pool?: 'threads' | 'processes';
  devices?: number[];
  /** Queue jobs run at once by this worker (default: the local pool's size; each shard is one local task). */
  concurrency?: number;
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

/** One BullMQ job: the record checked, then the job's descriptor, then its place in the plan, then the work. */
async function processJob(w: WorkerContext, job: Job, token: string | undefined): Promise<unknown> {
  let d: QueueJobData;
  try {
    d = checkJobRecord(job);
  } catch (e) {
    throw rejectRecord(e);
  }
  try {
    await w.throwIfStopped(d.jobId);
    const cd = await w.cache.descriptor(d.jobId);
    try {
      checkInPlan(cd.desc, d);
    } catch (e) {
      throw rejectRecord(e);
    }
    if (d.kind === 'shard') {
      await holdLockFor(w, job, token);
      return await runShard(w, await w.cache.get(d.jobId), d);
    }
    if (d.kind === 'products') {
      await holdLockFor(w, job, token);
      return await runProductsShard(w, await w.cache.get(d.jobId), d);
    }
    if (d.kind === 'reduce') return await runReduce(w, job, token, d, cd);
    return await runCollect(w, job, d, cd);
  } catch (e) {
    if (e instanceof RecordRejected) throw e;
    if (e instanceof Error && !(e instanceof BackpackError) && !(e instanceof UnrecoverableError)) log.warn(`${oneLine(String(job.id), 80)}: unexpected ${e.stack ?? e.message}`);
    // A stopped job fails with its stop reason, not with what its deleted data caused meanwhile.
    const stop = await w.stopRecord(d.jobId).catch((): null => null);
    if (stop) throw new UnrecoverableError(stop.reason);
    throw toProcessorError(e);
  }
}

export async function startQueueWorker(settings: ConnectionSettings, opts: QueueWorkerOptions): Promise<QueueWorker> {
  const size = opts.devices?.length ?? opts.workers;
  if (!Number.isInteger(size) || size < 1) throw new UsageError(`--workers must be at least 1 for a queue worker (the pool computes the shards), got ${size}`);
  const policy = await PathPolicy.create(opts);
  const ctx = await QueueContext.open(settings);
  // The main thread only validates shapes (buildNetwork); the job's backend runs in the pool.
  if (!tf.getBackend()) await useBackend('wasm');
  const pool = createPool(opts.devices ? 'processes' : (opts.pool ?? 'threads'), size, opts.devices);
  const w = new WorkerContext(ctx, pool, new JobCache(ctx, policy), policy, opts);
  const name = opts.name ?? `${hostname()}:${process.pid}`;

  const processor = async (job: Job, token?: string) => {
    try {
      return await processJob(w, job, token);
    } catch (e) {
      throw e instanceof Error ? withoutStack(e) : e;
    }
  };
  const bull = new Worker(settings.queue, processor, {
    connection: bullConnection(settings),
    prefix: settings.prefix,
    concurrency: opts.concurrency ?? size,
    lockDuration: opts.lockDurationMs ?? DEFAULT_LOCK_MS,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    maxStalledCount: opts.maxStalledCount ?? 2,
    name,
  });
  bull.on('error', (e) => log.warn(`worker ${name}: ${oneLine(e.message)}`));
  bull.on('failed', (job, err) => {
    if (!job) return;
    const final = err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    log.warn(`${oneLine(String(job.name), 40)} ${oneLine(String(job.id), 80)} failed${final ? '' : ` (attempt ${job.attemptsMade}, will retry)`}: ${err.message}`);
    // A refused record fails alone: it must not stop (or free the data of) the job it names.
    if (err instanceof RecordRejected) return;
    const jobId = (job.data as { jobId?: unknown } | null)?.jobId;
    if (final && isJobId(jobId)) void stopJob(ctx, jobId, err.message);
  });
  await bull.waitUntilReady();
  const paths = `${policy.dataRoots.length ? `reads paths under ${policy.dataRoots.join(', ')}` : 'reads no paths'}, ${policy.outputRoot ? `writes under ${policy.outputRoot}` : 'writes no files'}`;
  log.info(`worker ${name} on queue '${settings.queue}' (prefix '${settings.prefix}') with ${size} local ${opts.devices ? 'device processes' : (opts.pool ?? 'threads')}; ${paths}`);

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

/** Marks a job failed after a final failure (first reason wins; its other shards fail fast) and frees its data. */
async function stopJob(ctx: QueueContext, jobId: string, reason: string): Promise<void> {
  const record: StopRecord = { kind: 'failed', reason: reason.startsWith('error [') ? oneLine(reason) : failureReason(new Error(reason)) };
  try {
    const phase = await markFailed(ctx, jobId, JSON.stringify(record));
    if (phase === 'missing' || phase === 'completed') return;
    // Failed or cancelled: the job will never read its tensors or partials again.
    const n = await deleteJobData(ctx, jobId, ['t', 'p', 'r']);
    if (n > 0) log.info(`job ${jobId}: ${phase}; freed ${n} keys of tensors and partials`);
  } catch (e) {
    log.warn(`job ${jobId}: could not record its failure or free its data: ${oneLine((e as Error).message)}`);
  }
}
