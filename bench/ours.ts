/**
 * The benchmark's child process for our side of one (problem, N, cores): every requested quantity,
 * one tagged JSON line per cell on stdout (bench/run.ts spawns it; not meant to be run by hand).
 *
 *   node --import tsx bench/ours.ts '<json ChildSpec>'
 *
 * "1 core": one in-process runBatch on this thread's backend with 1 kernel thread.
 * "2 cores": the faster of
 *   - 2 worker threads × 1 kernel thread: runJobOnPool on createPool('threads', 2), shards of ⌈N/2⌉
 *     (pool start-up and the workers' first jobs are warm-ups, not timed), and
 *   - (native only) one in-process runBatch with 2 kernel threads;
 *   wasm and cpu are single-threaded: their 2-core cell is the pool alone.
 *
 * Hygiene: an event-loop turn before every run (the native backend hands large results out as
 * zero-copy views whose memory is recycled only after GC and a turn of the event loop; without one
 * every run of a per-sample quantity would touch fresh pages, ~10 µs per 4 KiB page on these VMs),
 * at least --warmups untimed runs per variant (more while they total less than --min-warmup-s, at
 * most --max-warmups), then at least --repeats timed runs (more while the timed runs
 * total less than --min-cell-s, at most --max-runs; none beyond --repeats once --max-cell-s is spent);
 * median wall time, and the process's CPU time (every thread) per run beside it.
 *
 * A cell whose ratio to BackPACK (passed in by the parent, measured just before) is above 1 gets one
 * more, profiled run (bench/kernel-timer.ts) so the report can say which kernels hold it back.
 */
import { verdict } from './limits.ts';
import { kernelTimer, topKernels } from './kernel-timer.ts';
import { loadProblem, makeVectors } from './problem.ts';
import { startRssSampler } from './rss.ts';
import { TurnGate } from './turns.ts';
import { CELL_TAG, CELL_TARGET, DONE_TAG, META_TAG, PART_TAG, PROFILE_TAG, TICK_TAG, type ChildSpec, type Cores, type CellProfile, type InProcessTiming, type NotRun, type OurCell, type PoolTiming, type ProcessMeta, type Timing } from './types.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';

const PROFILE_RUNS = 3;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const MB = (bytes: number) => bytes / 2 ** 20;
const emit = (tag: string, x: unknown) => process.stdout.write(`${tag}${JSON.stringify(x)}\n`);
const turn = () => new Promise<void>((r) => setImmediate(r));

interface RunSample {
  ms: number;
  cpuMs: number;
  sysMs: number;
  computeMs: number;
  reduceMs: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as ChildSpec;
  const { useBackend } = await import('../src/backends/select.ts');
  const { runBatch, releaseResults } = await import('../src/api/run.ts');
  const { tf } = await import('../src/core/tf.ts');
  const maxRssBytes = spec.maxRssGB * 2 ** 30;
  const sampler = startRssSampler(maxRssBytes);
  const native = spec.backend === 'native';
  const setThreads = (threads: number) => useBackend(spec.backend, { threads });
  // (useBackend also guards the wasm heap's malloc: past 4 GiB it throws instead of writing at address 0.)
  await setThreads(1);
  const p = loadProblem(spec.problem, spec.N, 0);
  const meta: ProcessMeta = { numParams: p.numParams, rssAfterLoadMB: MB(process.memoryUsage.rss()) };
  emit(META_TAG, meta);

  let pool: import('../src/coordinator/pool.ts').WorkerPool | null = null;
  const getPool = async () => {
    if (!pool) {
      const { createPool } = await import('../src/coordinator/create-pool.ts');
      pool = createPool('threads', 2);
    }
    return pool;
  };
  let vectors: Map<string, HostTensor> | undefined;

  // With spec.turns, every run happens inside a turn lent by the parent (bench/turns.ts).
  const gate = new TurnGate(spec.turns === true);
  /**
   * Warm-ups: at least --warmups, more while they total less than --min-warmup-s (at most
   * --max-warmups): the engine's JS (tfjs's op wrappers, backprop, the pool's partials and merge)
   * reaches V8's optimised code only after some hundreds of runs of a fast cell. Returns their number.
   */
  const warmUp = async (run: () => Promise<{ ms: number }> | { ms: number }): Promise<number> => {
    let warmups = 0;
    for (let spentW = 0; warmups < spec.warmups || (spentW < spec.minWarmupS * 1000 && warmups < spec.maxWarmups); warmups++) {
      await turn();
      gate.before();
      spentW += (await run()).ms;
      gate.after();
      emit(TICK_TAG, { warmup: warmups + 1 });
    }
    return warmups;
  };
  /** Warm-ups, then timed runs, each after an event-loop turn. */
  const measure = async (run: () => Promise<RunSample> | RunSample): Promise<Timing> => {
    const warmups = await warmUp(run);
    await turn();
    const tensorsBefore = tf.memory().numTensors;
    const timed: RunSample[] = [];
    let spent = 0;
    while (timed.length < spec.repeats || (spent < spec.minCellS * 1000 && spent < spec.maxCellS * 1000 && timed.length < spec.maxRuns)) {
      await turn();
      gate.before();
      const t = await run();
      gate.after();
      timed.push(t);
      spent += t.ms;
      emit(TICK_TAG, { run: timed.length });
    }
    gate.release();
    await turn();
    return {
      medianMs: median(timed.map((t) => t.ms)),
      minMs: Math.min(...timed.map((t) => t.ms)),
      runs: timed.length,
      warmups,
      cpuMs: median(timed.map((t) => t.cpuMs)),
      sysMs: median(timed.map((t) => t.sysMs)),
      computeMs: median(timed.map((t) => t.computeMs)),
      reduceMs: median(timed.map((t) => t.reduceMs)),
      leakedTensors: tf.memory().numTensors - tensorsBefore,
    };
  };

  const sample = async (f: () => { loss: number; timings: { computeMs: number; reduceMs: number } } | Promise<{ loss: number; timings: { computeMs: number; reduceMs: number } }>, what: string): Promise<RunSample> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await f();
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (!Number.isFinite(r.loss)) throw new Error(`${what}: non-finite loss ${r.loss}`);
    return { ms, cpuMs: (c.user + c.system) / 1000, sysMs: c.system / 1000, computeMs: r.timings.computeMs, reduceMs: r.timings.reduceMs };
  };

  for (const quantity of spec.quantities) {
    gate.for(quantity);
    const label = `  ours ${spec.cores} core${spec.cores > 1 ? 's' : ''} ${spec.problem} N=${spec.N} ${quantity.padEnd(18)}`;
    const v = quantity === 'grad' ? {} : verdict(p.net, quantity, spec.N, spec.backend, maxRssBytes);
    if (v.reason) {
      process.stderr.write(`${label} not run: ${v.reason}\n`);
      emit(CELL_TAG, { quantity, cores: spec.cores, notRun: v.reason, kind: 'size' } satisfies NotRun);
      continue;
    }
    const extensions = quantity === 'grad' ? [] : [quantity as never];
    const needsVectors = quantity === 'GGNMP' || quantity === 'HMP';
    if (needsVectors) vectors ??= makeVectors(p.net);
    const inProcessOptions = { extensions, shardSize: v.shardSize, vectors: needsVectors ? vectors : undefined };
    const inProcess = (threads: number) => async (): Promise<InProcessTiming> => {
      await setThreads(threads);
      let shards = 1;
      const t = await measure(() =>
        sample(() => {
          const r = runBatch(p.net, p.inputs, p.targets, inProcessOptions);
          shards = r.shards;
          // As a loop over batches does once it has used a result (docs/library.md): its
          // memory goes back to the backend's cache now, not at the next garbage collection.
          releaseResults(r);
          return r;
        }, `${spec.problem} ${quantity}`),
      );
      return { ...t, threads, shardSize: v.shardSize, shards };
    };
    // Pool: an even split over the 2 workers; where a shard must be smaller (wasm heap), a multiple of 2 shards.
    const poolShards = v.shardSize ? 2 * Math.ceil(spec.N / (2 * v.shardSize)) : 2;
    const poolShardSize = Math.ceil(spec.N / poolShards);
    const onPool = async (): Promise<PoolTiming> => {
      await setThreads(1);
      const { runJobOnPool } = await import('../src/coordinator/run-job.ts');
      const pl = await getPool();
      const job = { spec: p.spec, weights: p.weights, inputs: p.inputs, targets: p.targets, vectors: needsVectors ? vectors : undefined };
      let shards = 0;
      const t = await measure(() =>
        sample(async () => {
          const r = await runJobOnPool(pl, job, { backend: spec.backend as 'native', threads: 1, extensions, shardSize: poolShardSize, vectors: needsVectors ? vectors : undefined, network: p.net });
          shards = r.shards;
          releaseResults(r); // as for runBatch above
          return r;
        }, `${spec.problem} ${quantity} on the pool`),
      );
      return { ...t, workers: 2, threadsPerWorker: 1, shardSize: poolShardSize, shards };
    };
    if (spec.profileOnly) {
      // Warmed up as a timed cell is (oneDNN's first call of a shape makes its primitive; V8
      // optimises the JS only after some hundreds of runs), so the profile shows the timed runs' kernels.
      const threads = native ? spec.cores : 1;
      await setThreads(threads);
      await warmUp(() => {
        const t0 = performance.now();
        releaseResults(runBatch(p.net, p.inputs, p.targets, inProcessOptions));
        return { ms: performance.now() - t0 };
      });
      emit(PROFILE_TAG, { quantity, profile: await profileRun(threads) });
      continue;
    }
    try {
      sampler.reset();
      const cell: Partial<OurCell> & { quantity: string; cores: Cores } = { quantity, cores: spec.cores };
      const notes: string[] = [];
      if (spec.cores === 1) {
        cell.inProcess = await inProcess(1)();
      } else {
        // In-process first (the native thread pool blocks on a condition variable when idle, so
        // it does not compete with the workers afterwards), reported at once: if the pool variant
        // then takes the process down (its per-sample rows cost several copies), the parent keeps it.
        if (native) {
          try {
            cell.inProcess = await inProcess(2)();
            emit(PART_TAG, { quantity, inProcess: cell.inProcess, peakRssMB: sampler.peakMB() });
          } catch (e) {
            notes.push(`1 runBatch × 2 threads failed: ${firstLine(e)}`);
          }
        }
        try {
          cell.pool = await onPool();
        } catch (e) {
          if (!cell.inProcess) throw e;
          notes.push(`2 workers × 1 thread failed: ${firstLine(e)}`);
        }
      }
      const best = cell.inProcess && (!cell.pool || cell.inProcess.medianMs <= cell.pool.medianMs) ? 'inProcess' : 'pool';
      const b = (best === 'inProcess' ? cell.inProcess : cell.pool)!;
      const out: OurCell = { ...cell, best, medianMs: b.medianMs, cpuMs: b.cpuMs, peakRssMB: sampler.peakMB(), ...(notes.length ? { variantNote: notes.join('; ') } : {}) };
      const bp = spec.backpackMs?.[quantity];
      if (spec.profile && bp !== undefined && out.medianMs / bp > CELL_TARGET) {
        // Profiled in-process (the pool's kernels run on other threads): the variant shown, or its in-process analogue.
        const threads = native ? spec.cores : 1;
        out.profile = await profileRun(threads);
      }
      emit(CELL_TAG, out);
      const fmtT = (t: Timing | undefined, what: string) => (t ? `${what} ${t.medianMs.toFixed(1)} ms (CPU ${t.cpuMs.toFixed(0)} ms, ${t.runs} runs)` : '');
      process.stderr.write(
        `${label} ${[fmtT(out.pool, '2 workers × 1:'), fmtT(out.inProcess, `runBatch × ${out.inProcess?.threads ?? 1}:`)].filter(Boolean).join('  ')}${bp !== undefined ? `  BackPACK ${bp.toFixed(1)} ms → ${(out.medianMs / bp).toFixed(2)}` : ''}  peak RSS ${out.peakRssMB.toFixed(0)} MB\n`,
      );
    } catch (e) {
      // The backend may be unusable now: report and leave; the parent starts a fresh process for the rest.
      const msg = firstLine(e);
      process.stderr.write(`${label} FAILED: ${msg}\n`);
      emit(CELL_TAG, { quantity, cores: spec.cores, notRun: `failed: ${msg}`, kind: 'failed' } satisfies NotRun);
      await sampler.stop();
      process.exit(3);
    }

    /** Kernel times summed over PROFILE_RUNS runs (each after a turn), reported per run. */
    async function profileRun(threads: number): Promise<CellProfile> {
      await setThreads(threads);
      const timer = kernelTimer();
      let runMs = 0;
      for (let i = 0; i < PROFILE_RUNS; i++) {
        await turn();
        if (i === 0) timer.start();
        else timer.resume();
        const t0 = performance.now();
        const r = runBatch(p.net, p.inputs, p.targets, inProcessOptions);
        runMs += performance.now() - t0;
        timer.stop();
        // As the timed runs do: kept, each run's per-sample rows would be fresh pages for the next.
        releaseResults(r);
      }
      await turn();
      const share = ([name, s]: [string, { ms: number; calls: number }]) => ({ name, ms: s.ms / PROFILE_RUNS, calls: Math.round(s.calls / PROFILE_RUNS) });
      return {
        what: `in-process runBatch, ${threads} thread${threads > 1 ? 's' : ''}, mean of ${PROFILE_RUNS} runs`,
        runMs: runMs / PROFILE_RUNS,
        kernelMs: timer.totalMs() / PROFILE_RUNS,
        top: topKernels(timer.byName(), 4).map(share),
        topShapes: topKernels(timer.byShape(), 3).map(share),
      };
    }
  }
  if (pool) await (pool as { close(): Promise<void> }).close();
  await sampler.stop();
  emit(DONE_TAG, { done: true });
}

function firstLine(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 400);
}

main().catch((e) => {
  process.stderr.write(`bench child: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
