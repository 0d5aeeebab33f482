/**
 * The report page in a real browser: Debian's headless Chromium (/usr/bin/chromium) driven by
 * playwright-core. Every plot must render (a laid-out <svg> with visible marks), the page must
 * load nothing but itself, and log no errors; the PNGs it rasterises must be real images.
 * Skipped, with the reason in its name, where /usr/bin/chromium is absent: `.ci/chromium.sh`
 * (ensure_chromium) installs it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, PLOT_IDS, writeReport } from '../../src/report/index.ts';
import { readSweepSpec, runSweep } from '../../src/sweep/index.ts';
import { runCli } from '../helpers/cli.ts';
import { exampleSweep, tempDir } from '../sweep/helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = HAVE_CHROMIUM ? '' : ` (SKIPPED: ${CHROMIUM} not found; install it with: source .ci/chromium.sh && ensure_chromium)`;
if (!HAVE_CHROMIUM) process.stderr.write(`test/report/browser.test.ts: skipped, ${CHROMIUM} not found (apt-get install chromium, or source .ci/chromium.sh && ensure_chromium)\n`);

const tmp = tempDir('bp-report-browser-');
let browser: Browser;
let sweepOut: string;
let runOut: string;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  // With a spectrum section, so that every plot the report knows has its data.
  const file = await exampleSweep(tmp.dir, {
    quantities: ['Variance', 'BatchL2Grad', 'GradientNoiseScale', 'DiagGGNExact'], options: { workers: 0, mode: 'both' },
    spectrum: { topK: 3, probes: 2, steps: 10, maxSamples: 48, shardSize: 16 },
  }, 96);
  sweepOut = (await runSweep(await readSweepSpec(file))).out;
  runOut = path.join(tmp.dir, 'run');
  const at = (...p: string[]) => path.join(tmp.dir, ...p);
  const r = await runCli(['run', '--model', at('model.json'), '--weights', at('checkpoints', 'step-0.safetensors'), '--inputs', at('data', 'inputs.npy'),
    '--targets', at('data', 'targets.npy'), '--extensions', 'BatchGrad,DiagHessian', '--out', runOut, '--workers', '0', '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  tmp.cleanup();
});

interface Rendered {
  plots: { id: string; width: number; height: number; marks: number; visibleMarks: number }[];
  missing: string[];
  requests: string[];
  errors: string[];
}

/** Opens the page from disk and measures every plot as laid out. */
async function render(html: string): Promise<Rendered> {
  const page = await browser.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    const measured = await page.evaluate(() => ({
      plots: [...document.querySelectorAll('svg[data-plot]')].map((svg) => {
        const box = svg.getBoundingClientRect();
        const marks = [...svg.querySelectorAll('.mark')].map((m) => m.getBoundingClientRect());
        return { id: svg.getAttribute('data-plot')!, width: box.width, height: box.height, marks: marks.length, visibleMarks: marks.filter((b) => b.width > 0 && b.height > 0).length };
      }),
      missing: [...document.querySelectorAll('[data-missing]')].map((e) => e.getAttribute('data-missing')!),
    }));
    return { ...measured, requests, errors };
  } finally {
    await page.close();
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe.skipIf(!HAVE_CHROMIUM)(`report in headless Chromium${SKIP_REASON}`, () => {
  it('a sweep report renders every plot, loads nothing else, logs no errors; PNGs are images', async () => {
    const r = await writeReport(sweepOut, { png: 'yes', chromium: CHROMIUM });
    const page = await render(r.html);
    expect(page.errors).toEqual([]);
    expect(page.requests).toEqual([pathToFileURL(r.html).href]);
    expect(page.plots.map((p) => p.id)).toEqual([...PLOT_IDS]);
    for (const p of page.plots) {
      expect(p.width, p.id).toBeGreaterThan(600);
      expect(p.height, p.id).toBeGreaterThan(300);
      expect(p.marks, p.id).toBeGreaterThan(0);
      expect(p.visibleMarks, p.id).toBe(p.marks);
    }
    expect(page.missing).toEqual([]);
    expect(r.pngs.map((f) => path.basename(f))).toEqual(PLOT_IDS.map((id) => `${id}.png`));
    for (const f of r.pngs) {
      const png = readFileSync(f);
      expect(png.subarray(0, 8).equals(PNG_SIGNATURE), f).toBe(true);
      // IHDR: width and height (big-endian) at bytes 16..24; 2× device scale.
      expect(png.readUInt32BE(16), f).toBeGreaterThan(1200);
      expect(png.readUInt32BE(20), f).toBeGreaterThan(600);
    }
  });

  it('a run report renders its plots and lists the missing ones', async () => {
    const r = await writeReport(runOut, { png: 'no' });
    const page = await render(r.html);
    expect(page.errors).toEqual([]);
    expect(page.requests).toEqual([pathToFileURL(r.html).href]);
    // Per-sample norms from BatchGrad's rows; curvature from DiagHessian; no Variance, no sweep.
    expect(page.plots.map((p) => p.id)).toEqual(['sample-grad-norms', 'diag-curvature']);
    for (const p of page.plots) expect(p.visibleMarks, p.id).toBeGreaterThan(0);
    expect(page.missing).toEqual(['layer-variance', 'layer-snr', 'gns-checkpoints', 'spectral-density', 'top-eigenvalues']);
  });
});
