/**
 * Taking turns on the cores: BackPACK's process and ours run the same (problem, N, cores) at the
 * same time, and the parent lends the machine to one of them at a time, in slices of about
 * TURN_MS. A shared machine's background load drifts over seconds to minutes; timed back to back, a
 * cell of one side and the same cell of the other can fall into different loads. Interleaved in
 * short slices, both sides' runs of a cell sample the same stretch of time.
 *
 * Protocol (one line each, on the child's stdout and stdin):
 *   child → parent  `@@WANT {"quantity": q}`   before a slice of runs of quantity q (it then blocks on stdin)
 *   parent → child  `go`                      the cores are the child's
 *   child → parent  `@@DONE {}`               the slice is over
 * bench/ours.ts (TurnGate below) and bench/backpack/time_backpack.py (class TurnGate) speak it.
 *
 * The parent (`Turns`) grants one side at a time, first come first served, so two sides that both
 * want the cores alternate. A side is held back while the other is still on an earlier quantity
 * (in the bench's order), so that both time a quantity over the same stretch; a side that has
 * exited no longer holds anyone back.
 *
 * While a side has its turn, the others are stopped (SIGSTOP, SIGCONT when the turn ends). Merely
 * waiting, a process is not idle: V8 compiles and collects garbage on background threads, our
 * kernel pool and OpenMP spin after their last parallel region. With 2 threads on 2 cores, one
 * such thread preempts a thread of the side being timed, and a fork–join region then waits for it.
 * Before they were stopped, the waiting side used 40–47 ms of CPU per second of the other's turns
 * (the ledger below), and BackPACK's 2-thread cells ran 16–44 % slower side by side than back to back.
 */
import { readSync, writeSync } from 'node:fs';
import { cpuMsOf, procAvailable } from './proc.ts';

/** The length of one slice: short against the drift, long against a switch (pipe messages, cold caches). */
export const TURN_MS = 100;
export const WANT_TAG = '@@WANT ';
export const DONE_TAG_TURN = '@@DONE ';

interface Waiting {
  side: string;
  position: number;
  go: () => void;
}

/** The parent's arbiter. `order` is the bench's quantity order: it decides who is behind. */
export class Turns {
  private holder: string | null = null;
  private readonly waiting: Waiting[] = [];
  private readonly progress = new Map<string, { position: number; exited: boolean }>();
  private readonly order: Map<string, number>;
  private readonly pids = new Map<string, number>();
  /** Per side: wall ms of its turns, and CPU ms the other sides used meanwhile (they should idle). */
  readonly ledger = new Map<string, { turnMs: number; othersCpuMs: number }>();
  private turnStart = { at: 0, othersCpuMs: 0 };
  /** Processes stopped for the current turn. */
  private stopped: number[] = [];
  private readonly continueOnExit = () => this.continueStopped();
  /** Ctrl-C or a kill of the bench: its stopped children first continue (they would stay stopped), then the signal's default. */
  private readonly continueOnSignal = (signal: NodeJS.Signals) => {
    this.close();
    process.kill(process.pid, signal);
  };

  constructor(sides: string[], order: string[]) {
    for (const s of sides) {
      this.progress.set(s, { position: -1, exited: false });
      this.ledger.set(s, { turnMs: 0, othersCpuMs: 0 });
    }
    this.order = new Map(order.map((q, i) => [q, i]));
    // A stopped child must not outlive the bench stopped.
    process.once('exit', this.continueOnExit);
    process.once('SIGINT', this.continueOnSignal);
    process.once('SIGTERM', this.continueOnSignal);
  }

  /** The process of `side`, whose CPU time is read while the other side has its turn. */
  attach(side: string, pid: number | undefined): void {
    if (pid !== undefined) this.pids.set(side, pid);
  }

  /** `side` asks for the cores to time `quantity`; `go` is called when they are its. */
  want(side: string, quantity: string, go: () => void): void {
    const p = this.side(side);
    const position = this.order.get(quantity) ?? this.order.size;
    p.position = Math.max(p.position, position);
    p.exited = false;
    this.waiting.push({ side, position, go });
    this.grant();
  }

  /** `side` has finished its slice. */
  done(side: string): void {
    if (this.holder === side) {
      const l = this.ledger.get(side)!;
      l.turnMs += performance.now() - this.turnStart.at;
      l.othersCpuMs += Math.max(0, this.othersCpuMs(side) - this.turnStart.othersCpuMs);
      this.holder = null;
      this.continueStopped();
    }
    this.grant();
  }

  /** `side`'s process has exited (finished, killed or crashed): it neither holds nor waits. */
  exited(side: string): void {
    this.side(side).exited = true;
    this.pids.delete(side);
    for (let i = this.waiting.length - 1; i >= 0; i--) if (this.waiting[i]!.side === side) this.waiting.splice(i, 1);
    this.done(side);
  }

  private side(side: string) {
    const p = this.progress.get(side);
    if (!p) throw new Error(`Turns: unknown side '${side}'`);
    return p;
  }

  private grant(): void {
    if (this.holder !== null) return;
    const i = this.waiting.findIndex((w) => this.othersCaughtUp(w));
    if (i < 0) return;
    const [w] = this.waiting.splice(i, 1);
    this.holder = w!.side;
    this.stopOthers(w!.side);
    this.turnStart = { at: performance.now(), othersCpuMs: this.othersCpuMs(w!.side) };
    w!.go();
  }

  private stopOthers(side: string): void {
    for (const [s, pid] of this.pids) {
      if (s === side || this.progress.get(s)!.exited) continue;
      try {
        process.kill(pid, 'SIGSTOP');
        this.stopped.push(pid);
      } catch {
        // Already gone: its exit is on the way.
      }
    }
  }

  private continueStopped(): void {
    for (const pid of this.stopped.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Gone meanwhile.
      }
    }
  }

  /** Detaches from process exit: call once both sides are done. */
  close(): void {
    this.continueStopped();
    process.removeListener('exit', this.continueOnExit);
    process.removeListener('SIGINT', this.continueOnSignal);
    process.removeListener('SIGTERM', this.continueOnSignal);
  }

  private othersCpuMs(side: string): number {
    let ms = 0;
    if (procAvailable) for (const [s, pid] of this.pids) if (s !== side) ms += cpuMsOf(pid);
    return ms;
  }

  private othersCaughtUp(w: Waiting): boolean {
    for (const [side, p] of this.progress) if (side !== w.side && !p.exited && p.position < w.position) return false;
    return true;
  }
}

/** Wires a child's lines to `turns`: returns the line handler's part for WANT/DONE (true = consumed). */
export function turnLines(turns: Turns, side: string, child: { pid?: number; stdin: NodeJS.WritableStream | null }): (line: string) => boolean {
  const stdin = child.stdin!;
  turns.attach(side, child.pid);
  // A child that died while its `go` was on the way: the exit is handled by the caller (Turns.exited).
  stdin.on('error', () => {});
  return (line) => {
    if (line.startsWith(WANT_TAG)) {
      const { quantity } = JSON.parse(line.slice(WANT_TAG.length)) as { quantity: string };
      turns.want(side, quantity, () => stdin.write('go\n'));
      return true;
    }
    if (line.startsWith(DONE_TAG_TURN)) {
      turns.done(side);
      return true;
    }
    return false;
  };
}

/**
 * The child's side, for bench/ours.ts: `before()` ahead of each run takes a turn if none is held;
 * `after()` gives it back once TURN_MS are spent; `release()` at the end of a measurement. Disabled,
 * every call is a no-op. Blocking reads of stdin are right here: nothing else runs on this thread
 * between runs, and the kernels must not run while the other side has the cores.
 */
export class TurnGate {
  private held = false;
  private since = 0;
  private quantity = '';

  constructor(private readonly enabled: boolean) {}

  for(quantity: string): this {
    this.release();
    this.quantity = quantity;
    return this;
  }

  before(): void {
    if (!this.enabled || this.held) return;
    writeSync(1, `${WANT_TAG}${JSON.stringify({ quantity: this.quantity })}\n`);
    waitForGo();
    this.held = true;
    this.since = performance.now();
  }

  after(): void {
    if (this.held && performance.now() - this.since >= TURN_MS) this.release();
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    writeSync(1, `${DONE_TAG_TURN}{}\n`);
  }
}

/** Reads stdin up to the next newline (the parent writes nothing but `go\n`). */
function waitForGo(): void {
  const byte = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, byte, 0, 1, null);
    } catch (e) {
      // A non-blocking stdin: wait a little and read again.
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      throw e;
    }
    if (n === 0) throw new Error('bench child: the parent closed stdin while a turn was asked for');
    if (byte[0] === 0x0a) return;
  }
}
