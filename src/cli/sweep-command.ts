/** `backpack-ts sweep SWEEP.json`: runs (or resumes) a sweep and prints where its rows went. */
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { SweepSummary } from '../sweep/run-sweep.ts';
import type { SweepSpec } from '../sweep/spec.ts';
import { UsageError } from '../errors/index.ts';
import { setLogger, stderrLogger } from './log.ts';
import { MAX_TIMER_MS, MAX_WORKERS, nonNegativeInt, SKIP_UNSUPPORTED_HELP } from './options.ts';

export interface SweepCommandOptions {
  out?: string;
  /** Run the units' batches as queue jobs (also when SWEEP.json has a "queue" section). */
  queue?: boolean;
  redis?: string;
  redisPasswordFile?: string;
  queueName?: string;
  prefix?: string;
  workers?: number;
  restart?: boolean;
  /** Sets options.skipUnsupported (a resume must say it again: see sweep/skipped.ts). */
  skipUnsupported?: boolean;
  quiet?: boolean;
  debugUnitDelay?: number;
}

export async function sweepCommand(file: string, opts: SweepCommandOptions): Promise<SweepSummary> {
  // Loaded here, not at the top: defining the commands (and --help) must not load the engine.
  const [{ readSweepSpec }, { runSweep }] = await Promise.all([import('../sweep/spec.ts'), import('../sweep/run-sweep.ts')]);
  const spec = await readSweepSpec(file);
  if (opts.skipUnsupported) spec.options.skipUnsupported = true;
  const out = opts.out ?? spec.options.out ?? path.join('out', `sweep-${path.basename(file).replace(/\.json$/i, '')}`);
  const onQueue = Boolean(opts.queue) || spec.queue !== undefined;
  if (!onQueue && (opts.redis !== undefined || opts.queueName !== undefined || opts.prefix !== undefined || opts.redisPasswordFile !== undefined)) {
    throw new UsageError('--redis, --redis-password-file, --queue-name and --prefix need --queue (or a "queue" section in the sweep file)');
  }
  if (onQueue && opts.workers !== undefined) throw new UsageError('--workers applies to local sweeps; on the queue, `backpack-ts worker`s compute');
  const queue = onQueue ? await queueRunner(spec, opts, out) : null;
  let s: SweepSummary;
  try {
    s = await runSweep(spec, { out, workers: opts.workers, restart: opts.restart, debugUnitDelayMs: opts.debugUnitDelay, runner: queue?.runner });
  } finally {
    await queue?.ctx.close();
  }
  const resumed = s.resumed > 0 ? ` (${s.resumed} complete from an earlier run)` : '';
  process.stdout.write(`${s.units} units${resumed}, ${s.rows.length} rows → ${s.files.join(', ')}\n`);
  return s;
}

/** The queue's unit runner and its connection (queue modules are loaded for queue sweeps only). */
async function queueRunner(spec: SweepSpec, opts: SweepCommandOptions, out: string) {
  const [{ connectionFromOptions }, { QueueContext }, { queueUnitRunner }] = await Promise.all([
    import('../../queue/connection.ts'), import('../../queue/context.ts'), import('../../queue/sweep-unit.ts'),
  ]);
  const q = spec.queue ?? {};
  const ctx = await QueueContext.open(connectionFromOptions({ redis: opts.redis ?? q.redis, queue: opts.queueName ?? q.name, prefix: opts.prefix ?? q.prefix, redisPasswordFile: opts.redisPasswordFile }));
  try {
    return { ctx, runner: queueUnitRunner(ctx, spec, path.resolve(out)) };
  } catch (e) {
    await ctx.close();
    throw e;
  }
}

export function registerSweepCommand(cli: Command): void {
  cli
    .command('sweep')
    .description('quantities over checkpoints × batch sizes × datasets (SWEEP.json); resumes an interrupted sweep')
    .argument('<sweep.json>', 'the sweep: model, checkpoints, batchSizes, datasets, quantities, options (docs/sweeps.md)')
    .option('--out <dir>', 'output directory (default: options.out, else out/sweep-<name>)')
    .option('--workers <W>', 'worker threads/processes, overriding options.workers (0: in this process)', nonNegativeInt('--workers', MAX_WORKERS))
    .option('--restart', 'discard the progress in the output directory and start over')
    .option('--skip-unsupported', SKIP_UNSUPPORTED_HELP)
    .option('--queue', 'run every unit\'s batches as queue jobs for `backpack-ts worker`s; resumes from Redis and the output directory')
    .option('--redis <url>', 'with --queue: Redis URL (default: the sweep file\'s queue.redis, $REDIS_URL, else redis://127.0.0.1:6379)')
    .option('--redis-password-file <file>', 'with --queue: file holding the Redis password (first line); or $BACKPACK_REDIS_PASSWORD')
    .option('--queue-name <name>', 'with --queue: queue name (default: queue.name, $BACKPACK_QUEUE, else backpack)')
    .option('--prefix <prefix>', 'with --queue: BullMQ key prefix (default: queue.prefix, $BACKPACK_QUEUE_PREFIX, else bp)')
    .option('--quiet', 'no progress output')
    .addOption(new Option('--debug-unit-delay <ms>', 'test hook: pause inside each unit before it is committed').argParser(nonNegativeInt('--debug-unit-delay', MAX_TIMER_MS)).hideHelp())
    .action(async (file: string, opts: SweepCommandOptions) => {
      setLogger(stderrLogger(Boolean(opts.quiet)));
      await sweepCommand(file, opts);
    });
}
