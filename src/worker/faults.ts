/**
 * Fault injection for the pool's failure tests: a task may carry a fault for one shard id, armed
 * for a number of attempts (a shared counter, so retries on other workers see it decrease).
 * The CLI never sets it.
 */
import type { FaultInjection } from '../protocol/messages.ts';

export function injectFault(fault: FaultInjection, shardId: number): void {
  if (fault.shardId !== shardId) return;
  const counter = new Int32Array(fault.counter);
  if (Atomics.sub(counter, 0, 1) <= 0) return;
  switch (fault.kind) {
    case 'throw':
      throw new Error(`injected failure on shard ${shardId}`);
    case 'exit':
      // In a worker thread this ends the thread; in a child process, the process.
      process.exit(70);
    case 'hang':
      sleep(10 * 60_000);
  }
}

/** Blocks this thread (like a long computation would; a timer would let the event loop run). */
export function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
