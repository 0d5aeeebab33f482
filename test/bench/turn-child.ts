/**
 * A stand-in for a bench child (bench/ours.ts, time_backpack.py) for test/bench/turns.test.ts:
 * times `runs` busy "runs" of `ms` each per quantity inside turns (bench/turns.ts TurnGate), and
 * prints the intervals it ran in as one JSON line at the end. `between`: ms of untimed busy work
 * after each run (as a real child's merging and bookkeeping), which must not eat into the other's turns.
 *   node --import tsx test/bench/turn-child.ts '{"quantities":["a","b"],"runs":12,"ms":15}'
 */
import { TurnGate } from '../../bench/turns.ts';

const { quantities, runs, ms, between = 0 } = JSON.parse(process.argv[2] ?? '{}') as { quantities: string[]; runs: number; ms: number; between?: number };
const busy = (forMs: number) => {
  const from = performance.now();
  while (performance.now() - from < forMs);
};
const gate = new TurnGate(true);
const intervals: { quantity: string; from: number; to: number }[] = [];
for (const quantity of quantities) {
  gate.for(quantity);
  for (let i = 0; i < runs; i++) {
    gate.before();
    const from = performance.timeOrigin + performance.now();
    busy(ms);
    intervals.push({ quantity, from, to: performance.timeOrigin + performance.now() });
    gate.after();
    busy(between);
  }
  gate.release();
}
process.stdout.write(`@@INTERVALS ${JSON.stringify(intervals)}\n`);
