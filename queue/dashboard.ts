/**
 * `backpack-ts dashboard`: bull-board over the job queue. Its packages are optional (not in
 * package.json): without them the command fails with a typed error naming what to install.
 *
 * The page is served self-contained: bull-board's page template loads web fonts from Google, so
 * the dashboard renders a copy of the template without external links (the page falls back to
 * system fonts) beside bull-board's own static files; nothing is fetched from the internet.
 */
import { mkdtemp, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { OptionalPackageError } from '../src/errors/queue-errors.ts';

export const DASHBOARD_PACKAGES = ['@bull-board/api', '@bull-board/express', 'express'] as const;

/** The small part of bull-board and express the dashboard uses. */
export interface BullBoardModules {
  createBullBoard(o: { queues: unknown[]; serverAdapter: unknown; options?: { uiBasePath?: string; uiConfig?: object } }): unknown;
  BullMQAdapter: new (queue: Queue) => unknown;
  ExpressAdapter: new () => { setBasePath(p: string): void; getRouter(): unknown };
  express: () => { use(path: string, router: unknown): void; listen(port: number, host: string, cb: () => void): Server };
}

/** Loads the optional packages; OptionalPackageError naming them when they are missing. */
export async function loadDashboardModules(): Promise<BullBoardModules> {
  const load = (name: string) => import(name as string) as Promise<Record<string, unknown>>;
  try {
    const api = await load('@bull-board/api');
    const adapter = await load('@bull-board/api/bullMQAdapter');
    const expressAdapter = await load('@bull-board/express');
    const express = await load('express');
    return {
      createBullBoard: api.createBullBoard as BullBoardModules['createBullBoard'],
      BullMQAdapter: adapter.BullMQAdapter as BullBoardModules['BullMQAdapter'],
      ExpressAdapter: expressAdapter.ExpressAdapter as BullBoardModules['ExpressAdapter'],
      express: (express.default ?? express) as BullBoardModules['express'],
    };
  } catch (e) {
    throw new OptionalPackageError(
      `the dashboard needs the optional packages ${DASHBOARD_PACKAGES.join(', ')}, which are not installed here ` +
      `(${(e as Error).message.split('\n')[0]}); install them with: npm install --no-save ${DASHBOARD_PACKAGES.join(' ')}`,
    );
  }
}

/** `<link>` and `<script>` tags that load from another origin (the template's web fonts). */
const EXTERNAL_TAG = /<(link|script)\b[^>]*\b(?:href|src)="(?:https?:)?\/\/[^"]*"[^>]*>(?:\s*<\/script>)?\s*/gi;

/** bull-board's page template without external tags. */
export function selfContained(template: string): string {
  return template.replace(EXTERNAL_TAG, '');
}

/** A UI directory for bull-board (its `uiBasePath`): the cleaned template and a link to its static files. */
async function localUi(): Promise<{ dir: string; remove(): Promise<void> }> {
  // bull-board's own way to find its UI (api/dist/index.js resolves @bull-board/ui/package.json).
  const api = createRequire(import.meta.url).resolve('@bull-board/api');
  const ui = path.dirname(createRequire(api).resolve('@bull-board/ui/package.json'));
  const dir = await mkdtemp(path.join(tmpdir(), 'backpack-dashboard-'));
  await mkdir(path.join(dir, 'dist'));
  await writeFile(path.join(dir, 'dist', 'index.ejs'), selfContained(await readFile(path.join(ui, 'dist', 'index.ejs'), 'utf8')));
  await symlink(path.join(ui, 'dist', 'static'), path.join(dir, 'dist', 'static'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function startDashboard(m: BullBoardModules, queue: Queue, o: { port: number; host: string }): Promise<{ url: string; close(): Promise<void> }> {
  const serverAdapter = new m.ExpressAdapter();
  serverAdapter.setBasePath('/');
  const ui = await localUi();
  m.createBullBoard({ queues: [new m.BullMQAdapter(queue)], serverAdapter, options: { uiBasePath: ui.dir, uiConfig: {} } });
  const app = m.express();
  app.use('/', serverAdapter.getRouter());
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(o.port, o.host, () => resolve(s));
  });
  return {
    url: `http://${o.host}:${o.port}/`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ui.remove();
    },
  };
}
