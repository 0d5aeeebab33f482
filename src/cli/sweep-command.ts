/** `backpack-ts sweep SWEEP.json`: runs (or resumes) a sweep and prints where its rows went. */
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { SweepSummary } from '../sweep/run-sweep.ts';
import { setLogger, stderrLogger } from './log.ts';
import { MAX_TIMER_MS, MAX_WORKERS, nonNegativeInt } from './options.ts';

export interface SweepCommandOptions {
  out?: string;
  workers?: number;
  restart?: boolean;
  quiet?: boolean;
  debugUnitDelay?: number;
}

export async function sweepCommand(file: string, opts: SweepCommandOptions): Promise<SweepSummary> {
  // Loaded here, not at the top: defining the commands (and --help) must not load the engine.
  const [{ readSweepSpec }, { runSweep }] = await Promise.all([import('../sweep/spec.ts'), import('../sweep/run-sweep.ts')]);
  const spec = await readSweepSpec(file);
  const out = opts.out ?? spec.options.out ?? path.join('out', `sweep-${path.basename(file).replace(/\.json$/i, '')}`);
  const s = await runSweep(spec, { out, workers: opts.workers, restart: opts.restart, debugUnitDelayMs: opts.debugUnitDelay });
  const resumed = s.skipped > 0 ? ` (${s.skipped} complete from an earlier run)` : '';
  process.stdout.write(`${s.units} units${resumed}, ${s.rows.length} rows → ${s.files.join(', ')}\n`);
  return s;
}

export function registerSweepCommand(cli: Command): void {
  cli
    .command('sweep')
    .description('quantities over checkpoints × batch sizes × datasets (SWEEP.json); resumes an interrupted sweep')
    .argument('<sweep.json>', 'the sweep: model, checkpoints, batchSizes, datasets, quantities, options (docs/sweeps.md)')
    .option('--out <dir>', 'output directory (default: options.out, else out/sweep-<name>)')
    .option('--workers <W>', 'worker threads/processes, overriding options.workers (0: in this process)', nonNegativeInt('--workers', MAX_WORKERS))
    .option('--restart', 'discard the progress in the output directory and start over')
    .option('--quiet', 'no progress output')
    .addOption(new Option('--debug-unit-delay <ms>', 'test hook: pause inside each unit before it is committed').argParser(nonNegativeInt('--debug-unit-delay', MAX_TIMER_MS)).hideHelp())
    .action(async (file: string, opts: SweepCommandOptions) => {
      setLogger(stderrLogger(Boolean(opts.quiet)));
      await sweepCommand(file, opts);
    });
}
