/** `backpack-ts report RESULTS_DIR`: an HTML page and SVG (+ PNG) plots of a run or sweep output. */
import { Option, type Command } from 'commander';
import type { ReportOptions, ReportResult } from '../report/write-report.ts';
import { setLogger, stderrLogger } from './log.ts';

export async function reportCommand(dir: string, opts: ReportOptions): Promise<ReportResult> {
  // Loaded here, not at the top: defining the commands (and --help) must not load the engine.
  const { writeReport } = await import('../report/write-report.ts');
  const r = await writeReport(dir, opts);
  const png = r.pngs.length > 0 ? ` + ${r.pngs.length} PNG` : r.pngSkipped ? ` (no PNG: ${r.pngSkipped})` : '';
  const missing = r.missing.length > 0 ? `; not plotted: ${r.missing.map((m) => m.id).join(', ')}` : '';
  process.stdout.write(`${r.html}: ${r.plots.length} plots (${r.plots.join(', ') || 'none'}), ${r.svgs.length} SVG${png}${missing}\n`);
  return r;
}

export function registerReportCommand(cli: Command): void {
  cli
    .command('report')
    .description('HTML page (inline SVG) and plot files for a `run` or `sweep` output directory')
    .argument('<results-dir>', 'a run output (results.safetensors + summary.json) or a sweep output directory')
    .option('--out <dir>', 'where to write index.html and the plots (default RESULTS_DIR/report)')
    .option('--unit <id>', 'sweep directories: the unit whose tensors the per-layer plots show (default: the last completed)')
    .addOption(new Option('--png <when>', 'PNG copies of the plots via headless Chromium').choices(['auto', 'yes', 'no']).default('auto'))
    .option('--chromium <path>', 'the Chromium binary for PNGs (default $BACKPACK_CHROMIUM or /usr/bin/chromium)')
    .action(async (dir: string, opts: ReportOptions) => {
      setLogger(stderrLogger(false));
      await reportCommand(dir, opts);
    });
}
