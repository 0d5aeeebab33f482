/**
 * Temporary files of this process (spill directories, /dev/shm job and worker directories, a
 * results file being written) are removed on every exit path:
 * - normal end and errors: their owners' `finally` (the handle's release());
 * - SIGINT/SIGTERM: a handler, installed while anything is registered, removes them all and
 *   re-raises the signal — only when no one else listens for it (the queue worker stops gracefully
 *   on Ctrl-C and closes its pools itself; removing files under it would break that);
 * - process exit (process.exit, an uncaught error): the 'exit' event;
 * - SIGKILL, a power cut: nothing can run, so every name carries a prefix and the pid that made it,
 *   and the next start removes those whose pid is dead (removeStale).
 */
import { readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

const cleanups = new Set<() => void>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function runAll(): void {
  for (const c of [...cleanups]) {
    cleanups.delete(c);
    try {
      c();
    } catch (e) {
      // Best effort while exiting: report, and go on with the other files.
      process.stderr.write(`warning: cleaning temporary files: ${(e as Error).message}\n`);
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // someone else owns shutdown
  runAll();
  uninstall();
  process.kill(process.pid, signal); // the default action now: end as the signal says
}

let installed = false;
function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', runAll);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.removeListener('exit', runAll);
}

/**
 * Registers a cleanup to run if the process is interrupted; returns release(), which runs it now
 * (normal end or error) and unregisters it. Idempotent.
 */
export function onInterrupt(cleanup: () => void): () => void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    cleanup();
  };
  cleanups.add(once);
  install();
  return () => {
    cleanups.delete(once);
    if (cleanups.size === 0) uninstall();
    once();
  };
}

/** A temporary path (file or directory) removed on release() or interruption. */
export function temporary(target: string): () => void {
  return onInterrupt(() => removeNow(target));
}

/**
 * Removes a file or directory. NOTE: on an interrupt, worker threads are still running and keep
 * writing spill files into their directory, so removing it in place races them (rmdir: ENOTEMPTY,
 * the directory left behind). Renamed first, it is out of their reach (they open files by the old
 * path, which no longer exists), and then removed at leisure; the new name keeps the old prefix,
 * so a removal cut short is still found by the next run's sweep of stale files.
 */
function removeNow(target: string): void {
  const doomed = `${target}-removing`;
  try {
    renameSync(target, doomed);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    rmSync(target, { recursive: true, force: true });
    return;
  }
  rmSync(doomed, { recursive: true, force: true });
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes entries of `dir` whose name matches `pattern` (its first group: the pid that made them)
 * and whose pid is dead: what a killed run left. Returns the names removed.
 */
export function removeStale(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    rmSync(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
