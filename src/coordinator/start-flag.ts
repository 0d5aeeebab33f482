/**
 * The coordinator's side of a thread task's start flag (protocol StartFlag): the worker raises it
 * when it begins the task, and the pool calls `onStart` then, so a shard's timeout counts running
 * time only. Invariant: word 0 is 0 (queued), 1 (started) or 2 (settled); the waiter is woken by
 * the worker's notify or, for a task that never started (aborted while queued), by settle().
 */
import type { StartFlag } from '../protocol/messages.ts';

type WaitAsync = (word: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
// NOTE: Atomics.waitAsync exists in Node ≥ 16 but is not in the ES2022 lib this project compiles against.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export function watchStart(onStart?: () => void): { flag: StartFlag; settle: () => void } {
  const flag = new SharedArrayBuffer(4);
  const word = new Int32Array(flag);
  if (onStart) {
    const w = waitAsync(word, 0, 0);
    const check = () => {
      if (Atomics.load(word, 0) === 1) onStart();
    };
    if (w.async) void w.value.then(check);
    else check();
  }
  return {
    flag,
    settle: () => {
      Atomics.store(word, 0, 2);
      Atomics.notify(word, 0);
    },
  };
}
