/**
 * The bench's turn-taking (bench/turns.ts): the parent's arbiter alone, then two child processes
 * that must never run at the same time, must alternate, and must time a quantity over the same
 * stretch (neither starts the next quantity's runs before the other has reached it).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onLines } from '../../bench/lines.ts';
import { Turns, turnLines } from '../../bench/turns.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('Turns (the parent)', () => {
  it('grants one side at a time, first come first served, and holds back a side that is ahead', () => {
    const turns = new Turns(['a', 'b'], ['q0', 'q1']);
    const granted: string[] = [];
    const go = (what: string) => () => granted.push(what);
    turns.want('a', 'q0', go('a q0'));
    expect(granted).toEqual([]); // b has not reached q0 (still loading)
    turns.want('b', 'q0', go('b q0'));
    expect(granted).toEqual(['a q0']);
    turns.want('a', 'q0', go('a q0 again')); // a's next slice waits behind b
    turns.done('a');
    expect(granted).toEqual(['a q0', 'b q0']);
    turns.done('b');
    expect(granted).toEqual(['a q0', 'b q0', 'a q0 again']);
    turns.done('a');
    turns.want('a', 'q1', go('a q1')); // a is ahead: held until b reaches q1
    turns.want('b', 'q0', go('b q0 again'));
    expect(granted.slice(3)).toEqual(['b q0 again']);
    turns.done('b');
    expect(granted.slice(4)).toEqual([]);
    turns.want('b', 'q1', go('b q1'));
    expect(granted.slice(4)).toEqual(['a q1']);
    turns.done('a');
    expect(granted.slice(5)).toEqual(['b q1']);
    turns.close();
  });

  it('lets the other side go on alone once a side has exited, even while it held the cores', () => {
    const turns = new Turns(['a', 'b'], ['q0', 'q1']);
    const granted: string[] = [];
    turns.want('b', 'q0', () => granted.push('b'));
    turns.want('a', 'q0', () => granted.push('a'));
    expect(granted).toEqual(['b']);
    turns.exited('b');
    expect(granted).toEqual(['b', 'a']);
    turns.done('a');
    turns.want('a', 'q1', () => granted.push('a q1'));
    expect(granted).toEqual(['b', 'a', 'a q1']);
    turns.close();
  });

  it('names an unknown side', () => {
    const turns = new Turns(['a'], []);
    expect(() => turns.want('c', 'q', () => {})).toThrow(/unknown side 'c'/);
    turns.close();
  });
});

describe('two child processes taking turns', () => {
  it('never overlap, alternate, and move to the next quantity together', async () => {
    const turns = new Turns(['a', 'b'], ['q0', 'q1']);
    // 12 runs of 15 ms per quantity, 30 ms of untimed work after each: several slices of 100 ms.
    const spec = { quantities: ['q0', 'q1'], runs: 12, ms: 15, between: 30 };
    const run = (side: string) =>
      new Promise<{ quantity: string; from: number; to: number }[]>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/bench/turn-child.ts'), JSON.stringify(spec)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
        const turnLine = turnLines(turns, side, child);
        let intervals: { quantity: string; from: number; to: number }[] | undefined;
        onLines(child.stdout!, (line) => {
          if (turnLine(line)) return;
          if (line.startsWith('@@INTERVALS ')) intervals = JSON.parse(line.slice('@@INTERVALS '.length));
        });
        child.on('error', reject);
        child.on('close', (code) => {
          turns.exited(side);
          if (code !== 0 || !intervals) reject(new Error(`child ${side} exited ${code}`));
          else resolve(intervals);
        });
      });
    const [a, b] = await Promise.all([run('a'), run('b')]);
    turns.close();
    expect(a).toHaveLength(24);
    expect(b).toHaveLength(24);
    // Never at the same time.
    for (const x of a) for (const y of b) expect(x.to <= y.from || y.to <= x.from).toBe(true);
    // Alternating: the merged sequence switches side more than once per quantity.
    const merged = [...a.map((x) => ({ ...x, side: 'a' })), ...b.map((x) => ({ ...x, side: 'b' }))].sort((x, y) => x.from - y.from);
    const switches = merged.filter((x, i) => i > 0 && x.side !== merged[i - 1]!.side).length;
    expect(switches).toBeGreaterThanOrEqual(4);
    // Together: no run of q1 on either side before the last run of q0 on the other... started.
    const firstQ1 = Math.min(...merged.filter((x) => x.quantity === 'q1').map((x) => x.from));
    const lastQ0Start = Math.max(...merged.filter((x) => x.quantity === 'q0').map((x) => x.from));
    expect(firstQ1).toBeGreaterThan(lastQ0Start);
    // The waiting side is stopped: its untimed work after the last run of a turn (30 ms) does not
    // run during the other's turns. /proc counts CPU in 10 ms ticks.
    for (const side of ['a', 'b']) {
      const l = turns.ledger.get(side)!;
      expect(l.turnMs).toBeGreaterThan(300);
      expect(l.othersCpuMs).toBeLessThanOrEqual(30);
    }
  });
});
