/**
 * Worker scaling (issue "coordinator"): samples/s of one job on a thread pool of W workers,
 * createPool('threads', W) + runJobOnPool, shards = an even split of N over the W workers, one
 * kernel thread per worker (the native backend's --threads-per-worker 1; wasm and cpu have one anyway).
 *
 *   node --import tsx bench/scaling.ts [--problems 3c3d_cifar10,2c2d_fmnist] [--quantities grad,BatchGrad,DiagGGNExact,KFAC]
 *        [--workers 1,2,3,4] [--n 256] [--repeats 1] [--backend auto|native|wasm|cpu] [--max-rss-gb 11] [--job-timeout-s 240] [--md FILE]
 *
 * Each W runs in its own child process (so a worker that runs out of memory loses only that W) with
 * one pool for all its cells. Pool start-up is excluded: before the timed jobs of a problem, one
 * warm-up job on the same pool runs every requested quantity at once on the same shard shapes
 * (starts the workers' backends, builds their model replicas, grows their heaps / allocator caches, fills the
 * per-geometry caches). Then each quantity gets --repeats timed jobs (median); samples/s = N / wall.
 * Efficiency at W = (samples/s at W) / (W · samples/s at W = 1); the target is ≥ 0.85 (a speed-up of
 * ≥ 0.85·W). W above the machine's cores is oversubscribed: at most cores/W is possible there.
 *
 * Shard size: ceil(N / W), except where one shard's per-parameter tensors would not fit a quarter
 * of a worker's 4 GiB wasm heap (bench/limits.ts; e.g. 2c2d BatchGrad's per-sample gradients):
 * then the shards are capped: W·⌈N / (W·cap)⌉ equal shards (still an even split over the workers), noted in the table.
 * Results are checked across W: the loss and a strided checksum of the gradient must agree.
 */
import { onLines } from './lines.ts';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { verdict } from './limits.ts';
import { listProblems, loadSpec, makeData, makeWeights } from './problem.ts';
import { RSS_KILL_TAG, startRssSampler } from './rss.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const CELL_TAG = '@@SCALING_CELL ';
export const SCALING_HEADING = '## Scaling over worker threads';
const TARGET = 0.85;

interface Options {
  problems: string[];
  quantities: string[];
  workers: number[];
  N: number;
  repeats: number;
  backend: string;
  maxRssGB: number;
  jobTimeoutS: number;
  md?: string;
  child: boolean;
}

interface Cell {
  W: number;
  problem: string;
  quantity: string;
  shards: number;
  shardSize: number;
  capped?: string;
  warmupMs?: number;
  medianMs?: number;
  runs?: number;
  /** Process CPU time (all threads) over wall time: cores kept busy. */
  busyCores?: number;
  /** The system part of it (page faults of fresh memory, mmap): contended across threads. */
  sysCores?: number;
  /** Medians of runJobOnPool's split: shards on the pool (dispatch → last partial merged) and finalise on the coordinator. */
  computeMs?: number;
  reduceMs?: number;
  loss?: number;
  checksum?: number;
  peakRssMB?: number;
  loadAvg?: number;
  error?: string;
}

function parseArgs(argv: string[]): Options {
  const get = (flag: string, def: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
  };
  const known = new Set(['--problems', '--quantities', '--workers', '--n', '--repeats', '--backend', '--max-rss-gb', '--job-timeout-s', '--md', '--child']);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node --import tsx bench/scaling.ts [--problems a,b] [--quantities grad,BatchGrad,DiagGGNExact,KFAC] [--workers 1,2,3,4] [--n 256] [--repeats 1] [--backend auto|native|wasm|cpu] [--max-rss-gb 11] [--job-timeout-s 240] [--md FILE]');
      process.exit(0);
    }
    if (!known.has(argv[i])) throw new Error(`unknown argument ${argv[i]}`);
    if (argv[i] !== '--child') i++;
  }
  const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const pos = (flag: string, def: string) => {
    const n = Number(get(flag, def));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number`);
    return n;
  };
  const problems = list(get('--problems', '3c3d_cifar10,2c2d_fmnist'));
  for (const p of problems) if (!listProblems().includes(p)) throw new Error(`unknown problem '${p}'`);
  return {
    problems,
    quantities: list(get('--quantities', 'grad,BatchGrad,DiagGGNExact,KFAC')),
    workers: list(get('--workers', '1,2,3,4')).map(Number),
    N: Math.floor(pos('--n', '256')),
    repeats: Math.floor(pos('--repeats', '1')),
    backend: get('--backend', 'auto'),
    maxRssGB: pos('--max-rss-gb', String(Math.floor(os.totalmem() / 2 ** 30 / 2))),
    jobTimeoutS: pos('--job-timeout-s', '240'),
    md: argv.includes('--md') ? get('--md', '') : undefined,
    child: argv.includes('--child'),
  };
}

/** auto → the backend it picks here (native where built); cuda has no kernels yet: native then. */
async function resolved(choice: string): Promise<string> {
  const { resolveBackend } = await import('../src/backends/select.ts');
  const r = await resolveBackend(choice);
  return r.backend === 'cuda' ? 'native' : r.backend;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Every 997th gradient entry of every parameter, summed: cheap, and different if anything went wrong. */
function checksum(results: Map<string, { data: ArrayLike<number> }>): number {
  let s = 0;
  for (const [key, t] of results) {
    if (!key.endsWith('.grad')) continue;
    for (let i = 0; i < t.data.length; i += 997) s += t.data[i];
  }
  return s;
}

/** Child: one W, one pool, every (problem, quantity); one tagged JSON line per cell. */
async function runChild(o: Options): Promise<void> {
  const W = o.workers[0];
  const sampler = startRssSampler(o.maxRssGB * 2 ** 30);
  const { useBackend } = await import('../src/backends/select.ts');
  const { createPool } = await import('../src/coordinator/create-pool.ts');
  const { runJobOnPool } = await import('../src/coordinator/run-job.ts');
  const { buildNetwork, disposeNetwork } = await import('../src/nn/network.ts');
  // The coordinator builds (and disposes) a network on this thread to validate each job.
  o.backend = await resolved(o.backend);
  await useBackend(o.backend);
  const pool = createPool('threads', W);
  try {
    for (const problem of o.problems) {
      const spec = loadSpec(problem);
      const weights = makeWeights(spec, 0);
      const data = makeData(spec, o.N, 1, 10);
      const t = { spec, weights, ...data };
      // Shard sizes: an even split over W, capped where a shard's tensors would not fit the wasm heap.
      const net = buildNetwork(spec, weights);
      const plan = new Map<string, { shardSize: number; shards: number; capped?: string; cannot?: string }>();
      for (const q of o.quantities) {
        // Decided for one shard of N, so that every W gets the same shards when they are capped.
        const v = q === 'grad' ? {} : verdict(net, q, o.N, o.backend, o.maxRssGB * 2 ** 30);
        const perWorker = Math.ceil(o.N / W);
        if (v.reason) {
          plan.set(q, { shardSize: perWorker, shards: W, cannot: v.reason });
        } else if (v.shardSize) {
          // A multiple of W, so that the workers still get equal work.
          const shards = W * Math.ceil(o.N / (W * v.shardSize));
          const size = Math.ceil(o.N / shards);
          plan.set(q, { shardSize: size, shards: Math.ceil(o.N / size), capped: `shards capped at ${v.shardSize} samples: ${v.shardWhy}` });
        } else {
          plan.set(q, { shardSize: perWorker, shards: Math.ceil(o.N / perWorker) });
        }
      }
      disposeNetwork(net);
      const job = (q: string) => {
        const p = plan.get(q)!;
        return { backend: o.backend as 'native', threads: 1, extensions: q === 'grad' ? [] : [q as never], shardSize: p.shardSize };
      };
      // Warm-up: per shard size in use, one job with every quantity of that size at once (all shapes seen).
      const w0 = performance.now();
      const bySize = new Map<number, string[]>();
      for (const q of o.quantities) {
        const p = plan.get(q)!;
        if (p.cannot) continue;
        bySize.set(p.shardSize, [...(bySize.get(p.shardSize) ?? []), q]);
      }
      for (const [shardSize, qs] of bySize) {
        await runJobOnPool(pool, t, { backend: o.backend as 'native', threads: 1, extensions: qs.filter((q) => q !== 'grad') as never[], shardSize });
      }
      const warmupMs = performance.now() - w0;
      for (const q of o.quantities) {
        const p = plan.get(q)!;
        const cell: Cell = { W, problem, quantity: q, shards: p.shards, shardSize: p.shardSize, capped: p.capped, warmupMs, loadAvg: os.loadavg()[0] };
        if (p.cannot) cell.error = `cannot run: ${p.cannot}`;
        else try {
          sampler.reset();
          const times: number[] = [];
          const busy: number[] = [];
          const sys: number[] = [];
          const comp: number[] = [];
          const red: number[] = [];
          for (let r = 0; r < o.repeats; r++) {
            // An event-loop turn first: lets the native backend recycle the memory of the last job's views.
            await new Promise((r) => setImmediate(r));
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            const res = await runJobOnPool(pool, t, job(q));
            const ms = performance.now() - t0;
            const c = process.cpuUsage(c0);
            times.push(ms);
            busy.push((c.user + c.system) / 1000 / ms);
            sys.push(c.system / 1000 / ms);
            comp.push(res.timings.computeMs);
            red.push(res.timings.reduceMs);
            cell.loss = res.loss;
            cell.checksum = checksum(res.results as never);
          }
          cell.medianMs = median(times);
          cell.runs = times.length;
          cell.busyCores = median(busy);
          cell.sysCores = median(sys);
          cell.computeMs = median(comp);
          cell.reduceMs = median(red);
          cell.peakRssMB = sampler.peakMB();
        } catch (e) {
          cell.error = ((e as Error).message ?? String(e)).split('\n')[0].slice(0, 300);
        }
        process.stdout.write(`${CELL_TAG}${JSON.stringify(cell)}\n`);
        process.stderr.write(
          `  W=${W} ${problem} ${q.padEnd(13)} ${cell.error ? `FAILED: ${cell.error}` : `${cell.medianMs!.toFixed(0).padStart(6)} ms  ${(o.N / (cell.medianMs! / 1000)).toFixed(1).padStart(7)} samples/s  ${cell.busyCores!.toFixed(2)} cores busy  ${p.shards} shards of ≤ ${p.shardSize}  peak RSS ${cell.peakRssMB!.toFixed(0)} MB`}\n`,
        );
      }
    }
  } finally {
    await pool.close();
    await sampler.stop();
  }
}

function runW(o: Options, W: number, argv: string[]): Promise<{ cells: Cell[]; error?: string }> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), ...argv.filter((_, i) => !(argv[i] === '--md' || argv[i - 1] === '--md' || argv[i] === '--workers' || argv[i - 1] === '--workers')), '--workers', String(W), '--child'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const cells: Cell[] = [];
    let tail = '';
    let rssKill = '';
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    // The first job of a W includes the pool start and the warm-up: allow it twice the job limit.
    const arm = (factor = 1) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, factor * o.jobTimeoutS * 1000 * o.repeats);
    };
    arm(3);
    onLines(child.stdout, (line) => {
      if (line.startsWith(CELL_TAG)) {
        cells.push(JSON.parse(line.slice(CELL_TAG.length)));
        arm(cells.length % o.quantities.length === 0 ? 3 : 1);
      } else if (line.trim()) process.stdout.write(`${line}\n`);
    });
    child.stderr.on('data', (d) => {
      const s = String(d);
      for (const l of s.split('\n')) if (l.startsWith(RSS_KILL_TAG)) rssKill = l.slice(RSS_KILL_TAG.length);
      process.stderr.write(s);
      tail = (tail + s).slice(-3000);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ cells });
      const why = rssKill
        ? `killed by the RSS watchdog (${(JSON.parse(rssKill).rssBytes / 2 ** 30).toFixed(1)} GiB > --max-rss-gb ${o.maxRssGB})`
        : timedOut
          ? `no progress within the job time limit (${o.jobTimeoutS} s per job); killed`
          : `process ended (${signal ?? `exit ${code}`}): ${tail.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at ')).pop()?.slice(0, 300) ?? ''}`;
      resolve({ cells, error: why });
    });
  });
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function report(o: Options, cells: Cell[], failures: Map<number, string>, started: Date, totalS: number, load: number[]): string {
  const cores = os.cpus().length;
  const Ws = o.workers;
  const find = (W: number, p: string, q: string) => cells.find((c) => c.W === W && c.problem === p && c.quantity === q);
  const sps = (c: Cell | undefined) => (c && c.medianMs ? o.N / (c.medianMs / 1000) : undefined);
  const header = ['problem', 'quantity', 'shards', ...Ws.map((W) => `W=${W}${W > cores ? ' (over-subscribed)' : ''}: samples/s (eff.)`)];
  const rows: string[] = [];
  const verdicts: string[] = [];
  const checks: string[] = [];
  const cannot: string[] = [];
  for (const p of o.problems) {
    for (const q of o.quantities) {
      const base = sps(find(1, p, q));
      const c1 = find(1, p, q);
      const shardsCol = Ws.map((W) => find(W, p, q)?.shards ?? '—').join('/');
      const cols = Ws.map((W) => {
        const c = find(W, p, q);
        if (!c) return failures.has(W) ? `failed: ${failures.get(W)}` : '—';
        if (c.error?.startsWith('cannot run')) {
          if (!cannot.includes(`${p} ${q}: ${c.error}`)) cannot.push(`${p} ${q}: ${c.error}`);
          return `cannot run [${cannot.indexOf(`${p} ${q}: ${c.error}`) + 1}]`;
        }
        if (c.error) return `failed: ${c.error}`;
        const s = sps(c)!;
        const eff = base ? s / (W * base) : undefined;
        const mark = W > 1 && W <= cores && eff !== undefined ? (eff >= TARGET ? ' ✓' : ' ✗') : '';
        return `${fmt(s)} (${eff === undefined ? '—' : eff.toFixed(2)}${mark}; ${c.busyCores!.toFixed(2)} cores)`;
      });
      rows.push(`| ${p} | ${q}${c1?.capped ? ' ‡' : ''} | ${shardsCol} | ${cols.join(' | ')} |`);
      for (const W of Ws.filter((w) => w > 1 && w <= cores)) {
        const c = find(W, p, q);
        const s = sps(c);
        if (base && s) verdicts.push(`${p} ${q} W=${W}: ${(s / (W * base)).toFixed(2)} ${s / (W * base) >= TARGET ? 'met' : 'NOT met'}`);
      }
      const ref = find(1, p, q);
      for (const W of Ws.slice(1)) {
        const c = find(W, p, q);
        if (!ref?.loss || !c?.loss) continue;
        const dl = Math.abs(c.loss - ref.loss) / Math.abs(ref.loss);
        const dc = Math.abs(c.checksum! - ref.checksum!) / Math.max(1e-30, Math.abs(ref.checksum!));
        if (dl > 1e-5 || dc > 1e-3) checks.push(`${p} ${q} W=${W}: loss differs by ${dl.toExponential(1)}, gradient checksum by ${dc.toExponential(1)}`);
      }
    }
  }
  const met = verdicts.filter((v) => !v.endsWith('NOT met')).length;
  const detail = [`| problem | quantity | ${Ws.map((W) => `W=${W}: wall / finalise ms, cores (sys)`).join(' | ')} |`, `|---|---|${Ws.map(() => '---:').join('|')}|`];
  for (const p of o.problems) {
    for (const q of o.quantities) {
      detail.push(`| ${p} | ${q} | ${Ws.map((W) => {
        const c = find(W, p, q);
        return c?.medianMs ? `${fmt(c.medianMs)} / ${fmt(c.reduceMs!)}, ${c.busyCores!.toFixed(2)} (${c.sysCores!.toFixed(2)})` : '—';
      }).join(' | ')} |`);
    }
  }
  const capped = cells.filter((c) => c.W === Ws[0] && c.capped).map((c) => `${c.problem} ${c.quantity}: ${c.capped}`);
  const warm = o.problems.map((p) => `${p}: ${Ws.map((W) => { const c = cells.find((x) => x.W === W && x.problem === p); return c?.warmupMs ? `W=${W} ${(c.warmupMs / 1000).toFixed(1)} s` : `W=${W} —`; }).join(', ')}`);
  const peak = Ws.map((W) => `W=${W} ${Math.max(0, ...cells.filter((c) => c.W === W && c.peakRssMB).map((c) => c.peakRssMB!)).toFixed(0)} MB`);
  return [
    SCALING_HEADING,
    '',
    '- command: {{COMMAND}}',
    `- date: ${started.toISOString()} (total ${totalS.toFixed(0)} s); machine: ${cores} cores (${os.cpus()[0]?.model ?? '?'}); load average (1/5/15 min) at start: ${load.map((x) => x.toFixed(2)).join(' / ')}, at the end: ${os.loadavg()[0].toFixed(2)}`,
    `- measured: wall time of one \`runJobOnPool\` (dispatch, shards on the pool, merge, finalise) on \`createPool('threads', W)\`, backend ${o.backend}, N = ${o.N}, shards = an even split over the W workers; median of ${o.repeats} timed job(s) after a warm-up job on the same pool (pool start-up, replicas, heap growth excluded); samples/s = N / wall. One process per W.`,
    `- efficiency = (samples/s at W) / (W · samples/s at W=1); target ≥ ${TARGET} (speed-up ≥ ${TARGET}·W), checked for W ≤ ${cores} (✓ met, ✗ not met). W > ${cores} is oversubscribed on this ${cores}-core machine: its efficiency can be at most ${cores}/W, reported as measured. "cores": process CPU time / wall time during the timed jobs (all threads).`,
    '',
    `| ${header.join(' | ')} |`,
    `|---|---|---:|${Ws.map(() => '---:').join('|')}|`,
    ...rows,
    '',
    `Where the wall time goes: "finalise" is runJobOnPool's serial tail on the coordinator (after the last partial is merged); "cores" = process CPU / wall over all threads, "(sys)" its kernel part (page faults of fresh memory — serialised on the process's memory map when several threads fault at once):`,
    '',
    detail.join('\n'),
    '',
    `Target (efficiency ≥ ${TARGET} at W ≤ ${cores}): ${verdicts.length ? `met in ${met} of ${verdicts.length} cells — ${verdicts.join('; ')}` : 'not measurable (no W=1 baseline or no W in 2…cores)'}.`,
    '',
    ...(cannot.length ? [cannot.map((c, i) => `[${i + 1}] ${c}`).join('\n\n'), ''] : []),
    ...(capped.length ? [`‡ More shards than workers (a multiple of W, equal work per worker), because one shard per worker would not fit the worker's heap (bench/limits.ts): ${capped.join('; ')}.`, ''] : []),
    `Warm-up jobs (pool start, all quantities at once, not counted): ${warm.join('; ')}. Peak RSS of the process (coordinator + all workers): ${peak.join(', ')}.`,
    '',
    checks.length ? `**Results differ across W**: ${checks.join('; ')}.` : 'Results agree across W (loss to 1e-5 and a strided gradient checksum to 1e-3, relative).',
    ...(failures.size ? ['', `Failed: ${[...failures].map(([W, why]) => `W=${W}: ${why}`).join('; ')}.`] : []),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseArgs(argv);
  if (o.child) return runChild(o);
  o.backend = await resolved(o.backend);
  const started = new Date();
  const load = os.loadavg();
  const t0 = performance.now();
  console.log(`scaling: problems ${o.problems.join(',')}, quantities ${o.quantities.join(',')}, W ${o.workers.join(',')}, N ${o.N}, ${o.repeats} timed job(s) per cell; load average ${load.map((x) => x.toFixed(2)).join(' ')}`);
  const cells: Cell[] = [];
  const failures = new Map<number, string>();
  for (const W of o.workers) {
    const r = await runW(o, W, argv);
    cells.push(...r.cells);
    if (r.error) failures.set(W, r.error);
  }
  const md = report(o, cells, failures, started, (performance.now() - t0) / 1000, load);
  if (o.md) writeFileSync(o.md, md);
  console.log(`\n${md.replace('{{COMMAND}}', `\`node --import tsx bench/scaling.ts ${argv.join(' ')}\``)}`);
}

main().catch((e) => {
  console.error(`scaling: ${(e as Error).message?.slice(0, 4000) ?? e}`);
  process.exit(1);
});
