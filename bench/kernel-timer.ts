/**
 * Per-kernel wall time on any synchronous backend (native, wasm, cpu), without tf.profile.
 *
 * tf.profile reads every kernel's outputs (`output.data()`, to check for NaNs) and holds them until
 * the profile ends: on the native backend that turns each output into a zero-copy view kept alive,
 * so every kernel writes fresh pages and the profile mostly measures page faults. Instead this wraps
 * the engine's `runKernelFunc` (the one path every registered kernel and every custom-gradient op
 * takes) and times each call: exclusive time per kernel name (nested kernels, e.g. inside a custom
 * op, are subtracted from their parent), and per kernel name + input shapes.
 *
 * Kernels here run synchronously, so the wall time around a call is the kernel's time (plus tfjs's
 * bookkeeping for it). Time outside any kernel (JS, reads of results to the host, merge, finalise)
 * is what remains of the run's wall time.
 */
import { tf } from '../src/core/tf.ts';

export interface KernelStat {
  ms: number;
  calls: number;
}

interface Invocation {
  kernelName?: string;
  inputs?: Record<string, { shape?: number[] } | null | undefined>;
}

export interface KernelTimer {
  /** Clears the counters and starts recording. */
  start(): void;
  /** Records again, adding to the counters. */
  resume(): void;
  /** Stops recording. */
  stop(): void;
  /** Exclusive ms per kernel name. */
  byName(): Map<string, KernelStat>;
  /** Exclusive ms per kernel name + input shapes. */
  byShape(): Map<string, KernelStat>;
  /** Sum of exclusive kernel time. */
  totalMs(): number;
}

let installed: KernelTimer | null = null;

/** The timer of this thread's tfjs engine (it wraps the engine's runKernelFunc from start() to stop()). */
export function kernelTimer(): KernelTimer {
  if (installed) return installed;
  const engine = tf.engine() as unknown as { runKernelFunc: (p: Invocation) => unknown; state: { activeScope?: { name?: string } | null } };
  const original = engine.runKernelFunc;
  const names = new Map<string, KernelStat>();
  const shapes = new Map<string, KernelStat>();
  const childMs: number[] = [];
  let on = false;
  const add = (m: Map<string, KernelStat>, k: string, ms: number) => {
    const e = m.get(k);
    if (e) {
      e.ms += ms;
      e.calls++;
    } else m.set(k, { ms, calls: 1 });
  };
  const wrapped = function (this: unknown, p: Invocation) {
    if (!on) return original.call(this, p);
    // Custom-gradient ops carry no kernel name: tfjs names them after the active scope (the op).
    const name = p.kernelName ?? engine.state.activeScope?.name ?? 'customOp';
    childMs.push(0);
    const t0 = performance.now();
    try {
      return original.call(this, p);
    } finally {
      const ms = performance.now() - t0;
      const nested = childMs.pop()!;
      if (childMs.length) childMs[childMs.length - 1] += ms;
      const own = ms - nested;
      add(names, name, own);
      const sh = Object.values(p.inputs ?? {}).map((t) => `[${(t?.shape ?? []).join(',')}]`).join(' ');
      add(shapes, `${name} ${sh}`, own);
    }
  };
  // Installed only while recording: runs between profiles pay nothing.
  installed = {
    start() {
      names.clear();
      shapes.clear();
      childMs.length = 0;
      on = true;
      engine.runKernelFunc = wrapped;
    },
    resume() {
      childMs.length = 0;
      on = true;
      engine.runKernelFunc = wrapped;
    },
    stop() {
      on = false;
      engine.runKernelFunc = original;
    },
    byName: () => new Map(names),
    byShape: () => new Map(shapes),
    totalMs: () => [...names.values()].reduce((s, e) => s + e.ms, 0),
  };
  return installed;
}

/** The top entries of a map by ms, as [key, stat]. */
export function topKernels(m: Map<string, KernelStat>, n: number): [string, KernelStat][] {
  return [...m.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, n);
}
