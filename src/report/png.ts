/**
 * PNGs of the report's SVG plots, rendered by a headless Chromium already on the machine (Debian's
 * `chromium` package) through playwright-core: nothing is downloaded. Without either, reports are
 * SVG only.
 */
import { existsSync } from 'node:fs';
import { RasterizerUnavailableError } from './errors.ts';

export const DEFAULT_CHROMIUM = process.env.BACKPACK_CHROMIUM ?? '/usr/bin/chromium';

/** Launch flags: headless, no sandbox (containers, root), no GPU, nothing fetched from the network. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

type Playwright = typeof import('playwright-core');

async function loadPlaywright(): Promise<Playwright> {
  try {
    return await import('playwright-core');
  } catch (e) {
    throw new RasterizerUnavailableError(`PNG output needs the package playwright-core (npm install --save-exact -D playwright-core): ${(e as Error).message}`);
  }
}

/** Why PNGs cannot be made here, or null when they can. */
export function rasterizerProblem(chromium = DEFAULT_CHROMIUM): string | null {
  return existsSync(chromium) ? null : `no Chromium at ${chromium} (apt-get install chromium, or set BACKPACK_CHROMIUM)`;
}

/** Renders each SVG to `file` at 2× scale. */
export async function rasterize(items: { svg: string; file: string }[], chromium = DEFAULT_CHROMIUM): Promise<void> {
  const problem = rasterizerProblem(chromium);
  if (problem) throw new RasterizerUnavailableError(`cannot write PNGs: ${problem}`);
  const { chromium: launcher } = await loadPlaywright();
  const browser = await launcher.launch({ executablePath: chromium, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 2 });
    for (const { svg, file } of items) {
      await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
      await page.locator('svg').first().screenshot({ path: file });
    }
  } finally {
    await browser.close();
  }
}
