/**
 * `backpack-ts spectrum`: eigenvalues, spectral density and trace of the GGN or Hessian over a
 * whole data set (docs/spectrum.md). This file only defines the command; spectrum-action.ts (the
 * engine) is loaded when it runs, so that --help loads nothing heavy.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_BATCH_SIZE, DEFAULT_SHARD_SIZE, TRACE_METHODS } from '../spectrum/defaults.ts';
import { BACKEND_CHOICES } from '../vocabulary.ts';
import { setLogger, stderrLogger } from './log.ts';
import { MAX_SEED, MAX_TIMER_MS, MAX_WORKERS, nonNegativeInt, positiveInt } from './options.ts';
import type { SpectrumCommandOptions } from './spectrum-action.ts';

export function registerSpectrumCommand(cli: Command): void {
  cli
    .command('spectrum')
    .description('eigenvalues (Lanczos), spectral density (SLQ) and trace (Hutchinson, Hutch++) of the GGN or Hessian over a data set')
    .requiredOption('--model <file>', 'model.json (torch.nn layer names and attributes)')
    .requiredOption('--weights <file>', 'weights.safetensors, parameters named like an nn.Sequential ("0.weight")')
    .option('--inputs <file>', 'inputs .npy/.safetensors [N, *input_shape] (with --targets)')
    .option('--targets <file>', 'targets .npy/.safetensors: class indices [N] or values [N, *out]')
    .option('--data <path>', 'a data set instead: any file or directory a sweep takes (docs/sweeps.md), rows in file order')
    .option('--max-samples <N>', 'with --data: only the first N rows', positiveInt('--max-samples'))
    .requiredOption('--out <dir>', 'output directory for spectrum.json (and eigenvector files)')
    .addOption(new Option('--curvature <kind>', 'the matrix').choices(['ggn', 'hessian']).default('ggn'))
    .option('--top-k <K>', 'largest eigenvalues (0: none)', nonNegativeInt('--top-k'), 5)
    .option('--bottom-k <K>', 'smallest eigenvalues', nonNegativeInt('--bottom-k'), 0)
    .option('--tol <r>', 'Lanczos stops when every wanted Ritz residual is at most r × the largest |eigenvalue| (default 1e-6)')
    .option('--max-iterations <M>', 'Lanczos steps at most, one product each (default min(n, max(100, 4(top+bottom))))', positiveInt('--max-iterations'))
    .option('--eigenvectors', 'write the eigenvectors to eigenvectors-top/bottom.safetensors ([k, *θ] per parameter)')
    .option('--density', 'spectral density by stochastic Lanczos quadrature')
    .option('--probes <P>', 'SLQ probes (default 10)', positiveInt('--probes'))
    .option('--steps <M>', 'Lanczos steps per SLQ probe (default min(n, 80))', positiveInt('--steps'))
    .option('--grid-points <G>', 'points of the smoothed density (default 256)', positiveInt('--grid-points'))
    .addOption(new Option('--trace <method>', 'trace estimator').choices([...TRACE_METHODS]))
    .option('--trace-products <M>', 'products the trace may use (default 99; at least n: exact)', positiveInt('--trace-products'))
    .option('--seed <K>', 'seed of the probes and start vectors (and of Dropout)', nonNegativeInt('--seed', MAX_SEED), 0)
    .option('--shard-size <S>', `samples per shard (default ${DEFAULT_SHARD_SIZE}); with --batch-size it fixes the summation order, so results do not depend on --workers`, positiveInt('--shard-size'))
    .option('--batch-size <B>', `rows read and placed for the workers at a time (default ${DEFAULT_BATCH_SIZE})`, positiveInt('--batch-size'))
    .option('--vectors-per-pass <V>', 'vectors one pass over the data multiplies at most (default 16)', positiveInt('--vectors-per-pass'))
    .addOption(new Option('--backend <name>', 'tensor backend (auto: cuda, then native, then wasm)').choices([...BACKEND_CHOICES]).default('auto'))
    .option('--threads-per-worker <T>', 'kernel and BLAS threads of each worker (native)', positiveInt('--threads-per-worker'))
    .option('--workers <W>', `worker threads/processes, at most ${MAX_WORKERS} (0: in this process)`, nonNegativeInt('--workers', MAX_WORKERS))
    .addOption(new Option('--pool <kind>', 'worker kind').choices(['threads', 'processes']).default('threads'))
    .option('--shard-timeout <ms>', 'a shard running longer is declared hung and retried', nonNegativeInt('--shard-timeout', MAX_TIMER_MS), 600_000)
    .option('--retries <R>', 'retries of a shard that failed non-deterministically', nonNegativeInt('--retries', 100), 2)
    .option('--queue', 'compute the products as queue jobs for `backpack-ts worker`s (the data is uploaded to Redis once)')
    .option('--redis <url>', 'with --queue: Redis URL (default: $REDIS_URL, else redis://127.0.0.1:6379); passwords: $BACKPACK_REDIS_PASSWORD or --redis-password-file')
    .option('--redis-password-file <file>', 'with --queue: file holding the Redis password (first line)')
    .option('--queue-name <name>', 'with --queue: queue name (default: $BACKPACK_QUEUE, else backpack)')
    .option('--prefix <prefix>', 'with --queue: BullMQ key prefix (default: $BACKPACK_QUEUE_PREFIX, else bp)')
    .option('--quiet', 'no progress output')
    .action(async (opts: SpectrumCommandOptions) => {
      setLogger(stderrLogger(Boolean(opts.quiet)));
      await (await import('./spectrum-action.ts')).spectrumCommand(opts);
    });
}
