/**
 * Queue mode on the command line: `submit`, `worker`, `status`, `result`, `cancel`, `dashboard`
 * (docs/queue.md). Every command takes the same connection options; stdout carries only what a
 * script reads (a job id, a status, file names), everything else goes to stderr. This file only
 * defines the commands; queue-actions.ts (BullMQ and all) is loaded when one runs.
 */
import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { DEFAULT_MAX_UPLOAD, MAX_CHUNK_BYTES, MAX_PRIORITY } from '../../queue/limits.ts';
import { intList, MAX_TIMER_MS, MAX_WORKERS, memorySize, nonNegativeInt, positiveInt, SKIP_UNSUPPORTED_HELP } from './options.ts';

const actions = () => import('./queue-actions.ts');

/** Shown once per command instead of ten option lines; docs/queue.md describes each one. */
export const CONNECTION_HELP = `
Redis authentication and TLS: --redis-username NAME, --redis-password-file FILE (or $BACKPACK_REDIS_PASSWORD,
$REDIS_PASSWORD, or the password in $REDIS_URL; not --redis-password, which every user sees in ps),
--redis-tls, --redis-tls-ca FILE, --redis-tls-cert FILE, --redis-tls-key FILE, --redis-tls-servername NAME,
--redis-tls-insecure: see docs/queue.md#connecting-to-redis.
`;

/**
 * The connection options every queue command takes. The address, queue and prefix are listed in
 * each --help; the authentication and TLS options are hidden there and named in one paragraph
 * (CONNECTION_HELP), documented once in docs/queue.md.
 */
function withConnection(cmd: Command): Command {
  const hidden = (flags: string, description: string) => new Option(flags, description).hideHelp();
  return cmd
    .option('--redis <url>', 'Redis URL, redis://host:port[/db] or rediss:// (default: $REDIS_URL, else redis://127.0.0.1:6379); a password in it shows in ps: keep it in $REDIS_URL')
    .option('--queue <name>', 'queue name (default: $BACKPACK_QUEUE, else backpack)')
    .option('--prefix <prefix>', 'BullMQ key prefix (default: $BACKPACK_QUEUE_PREFIX, else bp)')
    .addOption(hidden('--redis-username <name>', 'Redis ACL user (default: $REDIS_USERNAME or the URL\'s)'))
    .addOption(hidden('--redis-password-file <file>', 'file holding the Redis password (first line)'))
    .addOption(hidden('--redis-password <password>', 'DISCOURAGED: visible to every user in ps (a warning says so)'))
    .addOption(hidden('--redis-tls', 'connect with TLS (implied by rediss://)'))
    .addOption(hidden('--redis-tls-ca <file>', 'PEM file of the CA that signed the server certificate'))
    .addOption(hidden('--redis-tls-cert <file>', 'PEM client certificate (mutual TLS)'))
    .addOption(hidden('--redis-tls-key <file>', 'PEM client key (mutual TLS)'))
    .addOption(hidden('--redis-tls-servername <name>', 'TLS server name (SNI) when it differs from the host'))
    .addOption(hidden('--redis-tls-insecure', 'accept any server certificate (testing only)'))
    .addHelpText('after', CONNECTION_HELP);
}

export function registerQueueCommands(cli: Command): void {
  withConnection(cli.command('submit <job>'))
    .description('enqueue a statistics job (JOB.json, see docs/queue.md); prints its id')
    .option('--wait', 'wait for the job with a progress bar (and write its results with --out)')
    .option('--out <dir>', 'with --wait: write results.safetensors + summary.json here (keeps the results in Redis)')
    .option('--priority <P>', 'BullMQ priority, 1 = highest (overrides the job file)', positiveInt('--priority', MAX_PRIORITY))
    .option('--max-upload <size>', 'largest total of tensors uploaded into Redis, e.g. 512M', memorySize('--max-upload'), DEFAULT_MAX_UPLOAD)
    .option('--chunk-size <size>', 'bytes per Redis key of uploaded tensors (≤ 128M)', memorySize('--chunk-size', MAX_CHUNK_BYTES, 1024))
    .option('--max-memory <size>', 'memory budget a worker has for one shard and for the job\'s outputs (default: half this machine\'s memory); a job that cannot fit is refused', memorySize('--max-memory'))
    .option('--skip-unsupported', SKIP_UNSUPPORTED_HELP)
    .option('--quiet', 'only the job id (stdout) and warnings: no messages, no progress bar')
    .action(async (file: string, opts) => (await actions()).submitAction(file, opts));

  withConnection(cli.command('worker'))
    .description('run a queue worker: takes shards and reductions from the queue until interrupted')
    .option('--workers <W>', `local worker threads/processes computing each shard (at most ${MAX_WORKERS})`, positiveInt('--workers', MAX_WORKERS), Math.min(MAX_WORKERS, availableParallelism()))
    .addOption(new Option('--pool <kind>', 'local worker kind').choices(['threads', 'processes']).default('threads'))
    .option('--devices <list>', 'one local worker process per GPU device, e.g. 0,1', intList('--devices', MAX_WORKERS - 1))
    .option('--concurrency <C>', 'queue shards computed at once, each by one local worker (default: --workers)', positiveInt('--concurrency', MAX_WORKERS))
    .option('--lock-duration <ms>', 'lock of an active shard; a worker silent this long is presumed dead', positiveInt('--lock-duration', MAX_TIMER_MS), 30_000)
    .option('--stalled-interval <ms>', 'how often to look for shards of dead workers', positiveInt('--stalled-interval', MAX_TIMER_MS), 30_000)
    .option('--max-stalled <n>', 'redeliveries of a stalled shard before it fails', nonNegativeInt('--max-stalled', 1000), 2)
    .option('--shard-timeout <ms>', 'a local micro-shard running longer is hung: its worker is replaced', nonNegativeInt('--shard-timeout', MAX_TIMER_MS), 600_000)
    .option('--retries <R>', 'local retries of a micro-shard that failed non-deterministically', nonNegativeInt('--retries', 100), 2)
    .option('--max-result <size>', 'largest results.safetensors kept in Redis', memorySize('--max-result'))
    .option('--chunk-size <size>', 'bytes per Redis key of partials and results (≤ 128M)', memorySize('--chunk-size', MAX_CHUNK_BYTES, 1024))
    .option('--max-memory <size>', 'memory budget of this worker for one shard (default: half this machine\'s memory); a shard that cannot fit fails its job', memorySize('--max-memory'))
    .option('--name <name>', 'worker name shown by BullMQ (default host:pid)')
    .option('--data-root <dir>', 'directory "tensors": "paths" jobs may read from (repeatable); without it the worker reads no paths', (v: string, prev: string[] = []) => [...prev, v])
    .option('--output-root <dir>', 'directory under which output.dir may lie; without it the worker writes no files (results stay in Redis)')
    .option('--quiet', 'log warnings only (no line per shard)')
    .addOption(new Option('--debug-shard-delay <ms>', 'test hook: wait before each shard').argParser(nonNegativeInt('--debug-shard-delay', MAX_TIMER_MS)).hideHelp())
    .addOption(new Option('--debug-sync-block <ms>', 'test hook: hold the main thread this long in each reduce').argParser(nonNegativeInt('--debug-sync-block', MAX_TIMER_MS)).hideHelp())
    .action(async (opts) =>
      (await actions()).workerAction(opts, {
        workers: opts.workers, pool: opts.pool, devices: opts.devices, concurrency: opts.concurrency,
        lockDurationMs: opts.lockDuration, stalledIntervalMs: opts.stalledInterval, maxStalledCount: opts.maxStalled,
        shardTimeoutMs: opts.shardTimeout, retries: opts.retries, maxResultBytes: opts.maxResult, chunkBytes: opts.chunkSize,
        maxMemoryBytes: opts.maxMemory, name: opts.name, debugShardDelayMs: opts.debugShardDelay, debugSyncBlockMs: opts.debugSyncBlock, dataRoots: opts.dataRoot, outputRoot: opts.outputRoot,
      }),
    );

  withConnection(cli.command('status [id]'))
    .description('state and progress of a job, or a table of the recent jobs')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, opts) => (await actions()).statusAction(id, opts));

  withConnection(cli.command('result <id>'))
    .description('write a completed job\'s results (kept in Redis) as results.safetensors + summary.json')
    .requiredOption('--out <dir>', 'output directory')
    .action(async (id: string, opts) => (await actions()).resultAction(id, opts));

  withConnection(cli.command('cancel <id>'))
    .description('cancel a queued or running job; its shards stop and are not retried')
    .action(async (id: string, opts) => (await actions()).cancelAction(id, opts));

  withConnection(cli.command('dashboard'))
    .description(`web dashboard of the queue (bull-board; needs the optional packages @bull-board/api, @bull-board/express, express)`)
    .option('--port <port>', 'HTTP port', positiveInt('--port', 65535), 3000)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (opts) => (await actions()).dashboardAction(opts));
}
