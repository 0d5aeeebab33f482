/**
 * `backpack-ts dashboard`: bull-board over the job queue. Its packages are optional (not in
 * package.json): without them the command fails with a typed error naming what to install.
 */
import type { Server } from 'node:http';
import type { Queue } from 'bullmq';
import { OptionalPackageError } from '../src/errors/queue-errors.ts';

export const DASHBOARD_PACKAGES = ['@bull-board/api', '@bull-board/express', 'express'] as const;

/** The small part of bull-board and express the dashboard uses. */
export interface BullBoardModules {
  createBullBoard(o: { queues: unknown[]; serverAdapter: unknown }): unknown;
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

export async function startDashboard(m: BullBoardModules, queue: Queue, o: { port: number; host: string }): Promise<{ url: string; close(): Promise<void> }> {
  const serverAdapter = new m.ExpressAdapter();
  serverAdapter.setBasePath('/');
  m.createBullBoard({ queues: [new m.BullMQAdapter(queue)], serverAdapter });
  const app = m.express();
  app.use('/', serverAdapter.getRouter());
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(o.port, o.host, () => resolve(s));
  });
  return {
    url: `http://${o.host}:${o.port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
