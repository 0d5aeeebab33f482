/**
 * The coordinator's side of a thread task's phase flag (protocol PhaseFlag): the worker raises it
 * to 1 (received) and 2 (started), and the pool reports each phase once, in order, so the shard's
 * timeouts count from there. Invariant: the waiter waits while the word still holds the last value
 * it saw; it is woken by the worker's notify or, for a task that never got that far (aborted while
 * queued, or failed), by settle(), which sets −1 so nothing more is reported.
 */
import type { PhaseFlag, TaskPhase } from '../protocol/messages.ts';

type WaitAsync = (word: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
// NOTE: Atomics.waitAsync exists in Node ≥ 16 but is not in the ES2022 lib this project compiles against.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

const PHASES: TaskPhase[] = ['received', 'started'];
const SETTLED = -1;

export function watchPhases(onPhase?: (phase: TaskPhase) => void): { flag: PhaseFlag; settle: () => void } {
  const flag = new SharedArrayBuffer(4);
  const word = new Int32Array(flag);
  if (onPhase) {
    let seen = 0;
    const watch = () => {
      const w = waitAsync(word, 0, seen);
      const next = () => {
        const v = Atomics.load(word, 0);
        if (v === SETTLED) return;
        for (; seen < v; seen++) onPhase(PHASES[seen]);
        if (seen < PHASES.length) watch();
      };
      if (w.async) void w.value.then(next);
      else next();
    };
    watch();
  }
  return {
    flag,
    settle: () => {
      Atomics.store(word, 0, SETTLED);
      Atomics.notify(word, 0);
    },
  };
}
