/** The `backpack-ts` command line. Every failure ends with a typed message and a non-zero exit code. */
import { availableParallelism } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { BackpackError, ErrorCode, UsageError } from '../errors/index.ts';
import { BACKEND_CHOICES, EXTENSION_NAMES } from '../vocabulary.ts';
import { registerImportCommand } from './import-command.ts';
import { setLogger, stderrLogger } from './log.ts';
import { EXTENSIONS_HINT, extensionList, intList, MAX_SEED, MAX_TIMER_MS, MAX_WORKERS, memorySize, nonNegativeInt, positiveInt, SKIP_UNSUPPORTED_HELP } from './options.ts';
import { registerQueueCommands } from './queue-commands.ts';
import { registerSweepCommand } from './sweep-command.ts';
import { packageVersion } from './version.ts';
import { registerReportCommand } from './report-command.ts';
import { registerSpectrumCommand } from './spectrum-command.ts';

/** Shown after `run --help` (test/cli/run-help.test.ts runs them). */
export const RUN_EXAMPLES = `
Examples:
  # per-sample gradients and their variance for one batch, on the default worker threads
  backpack-ts run --model model.json --weights weights.safetensors --inputs inputs.npy --targets targets.npy \\
    --extensions BatchGrad,Variance --out out/batch

  # the diagonal GGN over a whole dataset read in mini-batches of 64: one exact result, 2 worker processes
  backpack-ts run --model model.json --weights weights.safetensors --inputs inputs.npy --targets targets.npy \\
    --extensions DiagGGNExact --batch-size 64 --accumulate --workers 2 --pool processes --out out/dataset

More: docs/cli.md (options, exit codes, memory), docs/model.md (model.json).
`;

function program(): Command {
  const cli = new Command('backpack-ts')
    .description('BackPACK quantities (per-sample gradients, variance, curvature) for models in model.json')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    // Commander's own error line is replaced by ours (main's catch), in the one error format.
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => undefined });

  cli
    .command('run')
    .description('compute the gradient and the chosen quantities for one mini-batch')
    .requiredOption('--model <file>', 'model.json (torch.nn layer names and attributes)')
    .requiredOption('--weights <file>', 'weights.safetensors, parameters named like an nn.Sequential ("0.weight")')
    .requiredOption('--inputs <file>', 'inputs .npy/.safetensors [N, *input_shape]')
    .requiredOption('--targets <file>', 'targets .npy/.safetensors: class indices [N] or values [N, *out]')
    .option('--extensions <list>', `comma-separated quantities (without it: the gradient alone): ${EXTENSION_NAMES.join(', ')}`, extensionList)
    .requiredOption('--out <dir>', 'output directory for results.safetensors and summary.json')
    .addOption(new Option('--backend <name>', 'tensor backend (auto: cuda, then native, then wasm)').choices([...BACKEND_CHOICES]).default('auto'))
    .option('--threads-per-worker <T>', 'kernel and BLAS threads of each worker (native; default: cores ÷ workers)', positiveInt('--threads-per-worker'))
    .option('--tf32', 'cuda: TF32 tensor-core GEMMs (faster; ~1e-3 relative error instead of float32\'s, so off by default)')
    .option('--shard-size <S>', 'samples per shard', positiveInt('--shard-size'))
    .option('--seed <K>', 'seed of all randomness (MC samples, dropout)', nonNegativeInt('--seed', MAX_SEED), 0)
    .option('--subsampling <list>', 'global sample indices for per-sample quantities, e.g. 0,5,7', intList('--subsampling'))
    .option('--mc-samples <M>', 'Monte-Carlo samples for DiagGGNMC, BatchDiagGGNMC, SqrtGGNMC, KFAC', positiveInt('--mc-samples'), 1)
    .option('--allow-extra-weights', 'accept tensors in the weights file that the model does not use (default: an error listing them)')
    .option('--vectors <file>', 'GGNMP/HMP: .safetensors with one tensor [V, *θ] per parameter name')
    .option('--workers <W>', `worker threads/processes, at most ${MAX_WORKERS} (0: run in this process)`, nonNegativeInt('--workers', MAX_WORKERS), Math.min(MAX_WORKERS, availableParallelism()))
    .addOption(new Option('--pool <kind>', 'worker kind').choices(['threads', 'processes']).default('threads'))
    .option('--devices <list>', 'one worker process per GPU device index, e.g. 0,1 (implies --pool processes)', intList('--devices', MAX_WORKERS - 1))
    .option('--shard-timeout <ms>', 'a shard running longer is declared hung; its worker is replaced and the shard retried', nonNegativeInt('--shard-timeout', MAX_TIMER_MS), 600_000)
    .option('--retries <R>', 'retries of a shard that failed non-deterministically', nonNegativeInt('--retries', 100), 2)
    .option('--max-memory <size>', 'memory budget of one worker for one shard and of the job\'s outputs, e.g. 512M (default: half the physical memory); shards are cut to fit, larger jobs refused', memorySize('--max-memory'))
    .option('--batch-size <B>', 'treat the inputs as mini-batches of B samples: one result per batch (in OUTDIR/batch-NNNNN/)', positiveInt('--batch-size'))
    .option('--accumulate', 'with --batch-size: one exact result over all samples, streamed batch by batch')
    .option('--stream', 'write per-sample outputs to the results file as shards arrive (automatic above 512 MiB)')
    .option('--no-stream', 'hold all results in memory')
    .option('--skip-unsupported', SKIP_UNSUPPORTED_HELP)
    .option('--quiet', 'no progress output')
    .addHelpText('after', RUN_EXAMPLES)
    .action(async (opts) => {
      setLogger(stderrLogger(Boolean(opts.quiet)));
      await (await import('./run-command.ts')).runCommand(opts);
    });

  cli
    .command('demo')
    .description('run the bundled example job (no arguments, no network) and print a per-layer summary')
    .option('--out <dir>', 'where to write the results', 'out/demo')
    .addOption(new Option('--backend <name>', 'tensor backend (auto: cuda, then native, then wasm)').choices([...BACKEND_CHOICES]).default('auto'))
    .action(async (opts) => {
      setLogger(stderrLogger(false));
      await (await import('./demo-command.ts')).demoCommand(opts);
    });
  registerQueueCommands(cli);
  registerSweepCommand(cli);
  registerReportCommand(cli);
  registerSpectrumCommand(cli);
  registerImportCommand(cli);
  return cli;
}

/** Commander's errors (unknown option, bad choice, missing argument) as our typed usage error. */
function usageErrorOf(e: CommanderError): UsageError {
  if (e.code === 'commander.help') return new UsageError('a command is needed; see the list above');
  if (e.code === 'commander.optionMissingArgument' && e.message.includes("'--extensions ")) return new UsageError(EXTENSIONS_HINT);
  return new UsageError(e.message.replace(/^error: /, ''));
}

/** One line, `error [CODE] Name: message`, for every failure (commander's hints join the line). */
function report(e: BackpackError): number {
  process.stderr.write(`error [${e.code}] ${e.name}: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
  return e.exitCode;
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; anything else commander refuses is a usage error.
      return e.exitCode === 0 ? 0 : report(usageErrorOf(e));
    }
    if (e instanceof BackpackError) return report(e);
    // A bug: the same one-line format, and the stack only on request (it is for bug reports).
    const err = e instanceof Error ? e : new Error(String(e));
    const internal = new BackpackError(ErrorCode.Internal, `${err.name}: ${err.message} (a bug: please report it; BACKPACK_DEBUG=1 shows where it happened)`, false);
    internal.name = 'InternalError';
    const code = report(internal);
    if (process.env.BACKPACK_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
    return code;
  }
}
