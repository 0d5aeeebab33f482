/** The RSS watchdog shared by bench/ours.ts and bench/scaling.ts. (The wasm malloc guard lives in src/backends/wasm-guard.ts.) */
import { readFileSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** The line the RSS watchdog writes to fd 2 before it kills the process. */
export const RSS_KILL_TAG = '@@BENCH_RSS_KILL ';
const MB = (bytes: number) => bytes / 2 ** 20;

/**
 * Peak RSS and the RSS watchdog. The peak is the kernel's own high-water mark (VmHWM of
 * /proc/self/status, reset by writing 5 to /proc/self/clear_refs), exact and free of sampling;
 * where /proc does not allow that, the samples below. The watchdog runs on its own thread (runBatch
 * is synchronous, so the main thread cannot watch during it) and reads
 * process.memoryUsage.rss() — process-wide — every 20 ms, as bench/backpack.ts watches BackPACK:
 * inside the timed process a thread that wakes more often takes a core from the kernels on a 2-core
 * machine. Above `limitBytes` it kills the whole process (SIGKILL: the main thread may be inside a
 * wasm call) after writing one tagged line to fd 2, so the parent can say why.
 */
export function startRssSampler(limitBytes: number) {
  const shared = new SharedArrayBuffer(16);
  const peak = new BigInt64Array(shared, 0, 1);
  const stop = new Int32Array(shared, 8, 1);
  const code = `
    const { workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const { shared, limit, tag } = workerData;
    const peak = new BigInt64Array(shared, 0, 1);
    const stop = new Int32Array(shared, 8, 1);
    while (Atomics.load(stop, 0) === 0) {
      const rss = process.memoryUsage.rss();
      if (rss > limit) {
        fs.writeSync(2, tag + JSON.stringify({ rssBytes: rss, limitBytes: limit }) + '\\n');
        process.kill(process.pid, 'SIGKILL');
      }
      const r = BigInt(rss);
      let cur = Atomics.load(peak, 0);
      while (r > cur) { const was = Atomics.compareExchange(peak, 0, cur, r); if (was === cur) break; cur = was; }
      Atomics.wait(stop, 0, 0, 20);
    }`;
  const worker = new Worker(code, { eval: true, workerData: { shared, limit: limitBytes, tag: RSS_KILL_TAG } });
  worker.unref();
  const kernelPeak = resettableHighWaterMark();
  return {
    /** Restarts the peak at the current RSS. */
    reset: () => {
      kernelPeak?.reset();
      Atomics.store(peak, 0, BigInt(process.memoryUsage.rss()));
    },
    peakMB: () => MB(Math.max(Number(Atomics.load(peak, 0)), process.memoryUsage.rss(), kernelPeak?.bytes() ?? 0)),
    stop: async () => {
      Atomics.store(stop, 0, 1);
      Atomics.notify(stop, 0);
      await worker.terminate();
    },
  };
}

/** Linux's peak RSS of this process (VmHWM), with a reset; null where /proc does not offer both. */
function resettableHighWaterMark(): { reset: () => void; bytes: () => number } | null {
  const bytes = () => {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  };
  const reset = () => writeFileSync('/proc/self/clear_refs', '5');
  try {
    reset();
    return bytes() > 0 ? { reset, bytes } : null;
  } catch {
    return null;
  }
}
