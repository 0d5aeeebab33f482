/**
 * The dashboard page is self-contained: nothing on it loads from another origin (bull-board's
 * template asks Google for web fonts; ours does not), and every file it does load is served.
 * Runs where the optional bull-board packages are installed (`npm install --no-save
 * @bull-board/api @bull-board/express express`); elsewhere the template filter alone is tested.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueContext } from '../../queue/context.ts';
import { loadDashboardModules, selfContained, startDashboard } from '../../queue/dashboard.ts';
import { freePort, purge, testSettings } from './helpers.ts';

const installed = (() => {
  try {
    createRequire(import.meta.url).resolve('@bull-board/api');
    return true;
  } catch {
    return false;
  }
})();

it('the template filter drops tags that load from other origins and keeps local ones', () => {
  const page = [
    '<link rel="icon" href="static/favicon.svg">',
    '<link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans&display=swap" rel="stylesheet">',
    '<link href="//cdn.example/x.css" rel="stylesheet">',
    '<script src="http://cdn.example/x.js"></script>',
    '<link href="static/css/main.css" rel="stylesheet"><script defer src="static/js/main.js"></script>',
  ].join('\n');
  const out = selfContained(page);
  expect(out).not.toMatch(/https?:|\/\/cdn/);
  expect(out).toContain('<link rel="icon" href="static/favicon.svg">');
  expect(out).toContain('<link href="static/css/main.css" rel="stylesheet"><script defer src="static/js/main.js"></script>');
});

describe.skipIf(!installed)('the served dashboard (bull-board installed)', () => {
  const settings = testSettings();
  let ctx: QueueContext;
  let board: Awaited<ReturnType<typeof startDashboard>>;

  beforeAll(async () => {
    ctx = await QueueContext.open(settings);
    board = await startDashboard(await loadDashboardModules(), ctx.queue, { port: await freePort(), host: '127.0.0.1' });
  });
  afterAll(async () => {
    await board?.close();
    await ctx?.close();
    await purge(settings);
  });

  it('its page references no other origin, and every file it references is served', async () => {
    const html = await (await fetch(board.url)).text();
    expect(html).toContain('<div id="root">');
    expect(html).not.toMatch(/(?:href|src)="(?:https?:)?\/\//);
    expect(html).not.toMatch(/fonts\.googleapis|fonts\.gstatic/);
    const assets = [...html.matchAll(/(?:href|src)="(static\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const a of assets) {
      const r = await fetch(new URL(a, board.url));
      expect(r.status, a).toBe(200);
      if (a.endsWith('.css')) expect(await r.text(), a).not.toMatch(/url\((["']?)https?:/);
    }
  });
});
