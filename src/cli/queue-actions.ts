/**
 * What the queue commands do (their options are defined in queue-commands.ts). Loaded only when a
 * queue command runs: BullMQ, ioredis and zod stay out of `--help` and of `run`.
 */
import { connectionFromOptions, secretWarnings, type ConnectionOptions, type ConnectionSettings } from '../../queue/connection.ts';
import { QueueContext } from '../../queue/context.ts';
import { cancelJob } from '../../queue/cancel.ts';
import { loadDashboardModules, startDashboard } from '../../queue/dashboard.ts';
import { fetchResult } from '../../queue/result.ts';
import { checkJobId } from '../../queue/job-id.ts';
import { formatJobTable, formatStatus, jobStatus, listJobs, waitForJob } from '../../queue/status.ts';
import { submitJob } from '../../queue/submit.ts';
import { startQueueWorker, type QueueWorkerOptions } from '../../queue/worker.ts';
import { readJobFile } from '../../queue/job-schema.ts';
import { log, setLogger, stderrLogger } from './log.ts';
import { progressBar } from './progress.ts';

type Quiet = { quiet?: boolean };

/** How often a worker checks that the process that started it is still its parent. */
const ORPHAN_POLL_MS = 500;

/** Settings from the options; warns (even with --quiet) about secrets given where other users see them. */
function settingsFrom(opts: ConnectionOptions): ConnectionSettings {
  for (const w of secretWarnings(opts)) log.warn(w);
  return connectionFromOptions(opts);
}

/** Opens the queue, runs `fn`, always closes. */
async function withQueue<T>(opts: ConnectionOptions & Quiet, fn: (ctx: QueueContext, s: ConnectionSettings) => Promise<T>): Promise<T> {
  setLogger(stderrLogger(Boolean(opts.quiet)));
  const settings = settingsFrom(opts);
  const ctx = await QueueContext.open(settings);
  try {
    return await fn(ctx, settings);
  } finally {
    await ctx.close();
  }
}

const print = (s: string) => process.stdout.write(`${s}\n`);

export interface SubmitOptions extends ConnectionOptions, Quiet {
  wait?: boolean;
  out?: string;
  priority?: number;
  maxUpload: number;
  chunkSize?: number;
  maxMemory?: number;
  skipUnsupported?: boolean;
}

export async function submitAction(file: string, opts: SubmitOptions): Promise<void> {
  // The job file is read and checked before connecting: a malformed one fails without Redis.
  setLogger(stderrLogger(Boolean(opts.quiet)));
  const job = await readJobFile(file);
  if (opts.skipUnsupported) job.options.skipUnsupported = true;
  await withQueue(opts, async (ctx) => {
    const s = await submitJob(ctx, job, { priority: opts.priority, maxUploadBytes: opts.maxUpload, chunkBytes: opts.chunkSize, resultsInRedis: Boolean(opts.out), maxMemoryBytes: opts.maxMemory }, file);
    print(s.jobId);
    log.info(`submitted job ${s.jobId}: N=${s.N}, ${s.batches} batch(es), ${s.shards} shard(s)${s.uploadedBytes ? `, ${(s.uploadedBytes / 2 ** 20).toFixed(1)} MiB uploaded` : ''}`);
    if (!opts.wait) return;
    const bar = progressBar(!opts.quiet, `job ${s.jobId}`);
    let summary;
    try {
      summary = await waitForJob(ctx, s.jobId, { onProgress: (p) => bar.update(p) });
    } finally {
      bar.stop();
    }
    log.info(`job ${s.jobId} completed: loss ${summary.loss.toPrecision(8)} over N=${summary.N}`);
    if (opts.out) for (const f of await fetchResult(ctx, s.jobId, opts.out)) log.info(`wrote ${f}`);
  });
}

export async function workerAction(connection: ConnectionOptions & Quiet, options: QueueWorkerOptions): Promise<void> {
  setLogger(stderrLogger(Boolean(connection.quiet), { timestamps: true }));
  // Signals are caught from the start: one that arrives while the worker connects stops it once it
  // is up (never the default action, which would exit without closing anything).
  let stop: ((why: string) => void) | null = null;
  const early: string[] = [];
  const onSignal = (why: string) => (stop ? stop(why) : early.push(why));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const worker = await startQueueWorker(settingsFrom(connection), options);
  // First SIGINT/SIGTERM: finish the active shards, then exit. Second: exit now (the shards stall and are redelivered).
  await new Promise<void>((resolve) => {
    let signals = 0;
    stop = (why: string) => {
      signals++;
      log.info(signals === 1 ? `${why}: stopping after the active shards (signal again to abandon them)` : `${why}: abandoning the active shards`);
      void worker.close(signals > 1).then(resolve);
    };
    for (const why of early) stop(why);
    // NOTE: started through a wrapper (npx, a shell script), the pid a user signals may be the
    // wrapper's; a wrapper that exits without passing the signal on orphans this process, which
    // then sees a new parent. An orphaned worker stops as if signalled instead of serving on.
    const parent = process.ppid;
    const orphaned = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(orphaned);
      stop!(`parent process ${parent} ended`);
    }, ORPHAN_POLL_MS);
    orphaned.unref();
  });
}

export async function statusAction(id: string | undefined, opts: ConnectionOptions & Quiet & { json?: boolean }): Promise<void> {
  if (id !== undefined) checkJobId(id, 'status');
  await withQueue(opts, async (ctx) => {
    if (id) {
      const s = await jobStatus(ctx, id);
      print(opts.json ? JSON.stringify(s, null, 2) : formatStatus(s));
    } else {
      const jobs = await listJobs(ctx);
      print(opts.json ? JSON.stringify(jobs, null, 2) : formatJobTable(jobs));
    }
  });
}

export async function resultAction(id: string, opts: ConnectionOptions & Quiet & { out: string }): Promise<void> {
  checkJobId(id, 'result');
  await withQueue(opts, async (ctx) => {
    for (const f of await fetchResult(ctx, id, opts.out)) print(f);
  });
}

export async function cancelAction(id: string, opts: ConnectionOptions & Quiet): Promise<void> {
  checkJobId(id, 'cancel');
  await withQueue(opts, async (ctx) => {
    await cancelJob(ctx, id);
    print(`cancelled ${id}`);
  });
}

export async function dashboardAction(opts: ConnectionOptions & Quiet & { port: number; host: string }): Promise<void> {
  setLogger(stderrLogger(Boolean(opts.quiet)));
  const modules = await loadDashboardModules(); // before connecting: a missing package is the likelier problem
  await withQueue(opts, async (ctx) => {
    const board = await startDashboard(modules, ctx.queue, { port: opts.port, host: opts.host });
    log.info(`dashboard of queue '${ctx.settings.queue}' at ${board.url} (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await board.close();
  });
}
