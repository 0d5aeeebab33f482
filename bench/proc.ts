/**
 * RSS of other processes from /proc (Linux): of one process, or of a process and all its
 * descendants (a process tree), sampled on a timer by the parent while it waits for them.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** VmRSS of one process in bytes (0 once it is gone). */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, every thread) of one process in ms, from /proc/PID/stat; 0 once it is gone. */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
/** sysconf(_SC_CLK_TCK): 100 on every Linux Node supports. */
const CLOCK_TICKS = 100;

/** The process and its descendants (via /proc/PID/task/TID/children). */
export function treeOf(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(/\s+/).filter(Boolean)) stack.push(Number(c));
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return out;
}

export const procAvailable = (() => {
  try {
    readFileSync('/proc/self/status', 'utf8');
    return true;
  } catch {
    return false;
  }
})();

/**
 * Samples the RSS of a process tree every `everyMs`; calls `onOver` once when it exceeds `limitBytes`.
 * The peak is over whole samples (the sum of the tree's RSS at one moment).
 */
export function sampleTree(pid: number, everyMs = 20, limitBytes = Infinity, onOver?: (rss: number) => void) {
  let peak = 0;
  let samples = 0;
  let fired = false;
  const tick = () => {
    const rss = treeOf(pid).reduce((s, p) => s + rssOf(p), 0);
    samples++;
    if (rss > peak) peak = rss;
    if (!fired && rss > limitBytes) {
      fired = true;
      onOver?.(rss);
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    peakBytes: () => peak,
    samples: () => samples,
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}
