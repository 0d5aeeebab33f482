/**
 * The file a worker thread or process starts from. Compiled (dist/, `.js` modules): the worker
 * module itself, so a worker is ready without any TypeScript transpiling. From the sources (`.ts`,
 * under vitest or tsx): a small `.mjs` bootstrap that registers tsx first, since a new thread or
 * process gets no loader of its parent's.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * @param callerUrl the pool module's import.meta.url (its extension tells compiled from source)
 * @param worker the worker module's name in src/worker/, without extension ('thread-worker')
 * @param bootstrap the bootstrap beside it ('thread-entry.mjs'), used when running from sources
 */
export function workerEntryFile(callerUrl: string, worker: string, bootstrap: string): string {
  const caller = fileURLToPath(callerUrl);
  const dir = path.resolve(path.dirname(caller), '../worker');
  return caller.endsWith('.js') ? path.join(dir, `${worker}.js`) : path.join(dir, bootstrap);
}
