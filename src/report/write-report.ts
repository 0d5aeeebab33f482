/**
 * The library entry of reports: reads a `run` or `sweep` output directory and writes
 * OUT/index.html (self-contained) plus every plot as OUT/<plot>.svg and, where a headless Chromium
 * is available, OUT/<plot>.png.
 *
 *   const r = await writeReport('out/sweep', { png: 'auto' });   // r.html, r.plots, r.missing
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { log } from '../log.ts';
import { reportHtml } from './html.ts';
import { loadResults } from './load.ts';
import { buildPlots, type Missing } from './plots.ts';
import { DEFAULT_CHROMIUM, rasterize, rasterizerProblem } from './png.ts';

export interface ReportOptions {
  /** Output directory (default RESULTS_DIR/report). */
  out?: string;
  /** Sweep directories: the unit whose tensors the per-layer plots show (default: the last completed). */
  unit?: string;
  /** auto: PNGs when Chromium is available; yes: fail without it; no: SVG only. Default auto. */
  png?: 'auto' | 'yes' | 'no';
  chromium?: string;
}

export interface ReportResult {
  html: string;
  svgs: string[];
  pngs: string[];
  /** Ids of the plots drawn, and those missing with why. */
  plots: string[];
  missing: Missing[];
  /** Why no PNGs were written (png 'auto' without Chromium), else null. */
  pngSkipped: string | null;
}

export async function writeReport(dir: string, opts: ReportOptions = {}): Promise<ReportResult> {
  const input = await loadResults(dir, { unit: opts.unit });
  const { plots, missing, layers, labels } = buildPlots(input);
  const out = opts.out ?? path.join(dir, 'report');
  await mkdir(out, { recursive: true });
  const html = path.join(out, 'index.html');
  await writeFile(html, reportHtml(input, plots, missing, layers, labels));
  const svgs: string[] = [];
  for (const p of plots) {
    const file = path.join(out, `${p.id}.svg`);
    await writeFile(file, `<?xml version="1.0" encoding="UTF-8"?>\n${p.svg}\n`);
    svgs.push(file);
  }
  const mode = opts.png ?? 'auto';
  const chromium = opts.chromium ?? DEFAULT_CHROMIUM;
  let pngSkipped: string | null = mode === 'no' ? 'not requested (--png no)' : null;
  const pngs: string[] = [];
  if (mode !== 'no' && plots.length > 0) {
    const problem = rasterizerProblem(chromium);
    if (problem && mode === 'auto') {
      pngSkipped = problem;
      log.warn(`SVG plots only: ${problem}`);
    } else {
      const items = plots.map((p) => ({ svg: p.svg, file: path.join(out, `${p.id}.png`) }));
      await rasterize(items, chromium);
      pngs.push(...items.map((i) => i.file));
    }
  }
  return { html, svgs, pngs, plots: plots.map((p) => p.id), missing, pngSkipped };
}
