/**
 * The benchmark: median wall time of one full runBatch (forward + extended backward + reduce) per
 * (problem, N, quantity), its overhead over plain `grad`, BackPACK's CPU-1-thread anchor where one
 * exists, and the peak RSS. Each (problem, N) runs in its own child process so that its peak RSS is
 * its own (the wasm heap only ever grows).
 *
 *   npm run bench -- [--backend wasm|cpu] [--n 128[,1024]] [--problems a,b]
 *                    [--extensions grad,BatchGrad,…] [--repeats 5] [--max-cell-s 5] [--min-cell-s 1]
 *                    [--out bench/RESULTS.md]
 *
 * `grad` is runBatch with extensions []; the others are runBatch with [that quantity]. One warm-up
 * run per cell is not counted. A cell whose warm-up shows that `repeats` runs would take longer than
 * --max-cell-s gets fewer timed runs (at least 1); a cell faster than that keeps sampling until
 * --min-cell-s (default 1) of timed runs, at most 100; the table's `runs` column says how many.
 *
 * By default every quantity runs: grad and the first-order ones (first table), then the
 * second-order ones (second table; GGNMP/HMP with V = 1 random normal vector per parameter).
 * A cell that cannot run says why instead of a number: decided from sizes before running
 * (bench/limits.ts: KFRA's D×D all-reduce, tensors beyond the 4 GiB wasm32 heap, per-sample outputs
 * beyond --max-rss-gb), or found at run time (an exception, wasm malloc failing — turned into an
 * error here, tfjs-backend-wasm itself would write at address 0 —, the RSS watchdog, or
 * --cell-timeout-s); the child then restarts for the remaining quantities. A quantity whose
 * per-parameter factor does not fit the wasm heap in one shard of N runs in shards that fit (marked).
 *
 * Then bench/scaling.ts (samples/s over W worker threads) runs and its section is appended;
 * --no-scaling skips it, --scaling runs only it (replacing that section of --out).
 *
 *   more flags: [--max-rss-gb 11] [--cell-timeout-s 150] [--warmup-only-s 20] [--no-scaling | --scaling] [--scaling-args "…"]
 * A cell whose warm-up run takes longer than --warmup-only-s reports that run alone (marked w).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { anchorFor, ANCHOR_SOURCE } from './anchors.ts';
import { onLines } from './lines.ts';
import { verdict } from './limits.ts';
import { guardWasmMalloc, RSS_KILL_TAG, startRssSampler } from './rss.ts';
import { listProblems, loadProblem, makeVectors } from './problem.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const RESULT_TAG = '@@BENCH_RESULT ';
const META_TAG = '@@BENCH_META ';
const CELL_TAG = '@@BENCH_CELL ';
const MAX_RUNS = 100;
/** The heading of bench/scaling.ts's section in --out. */
export const SCALING_HEADING = '## Scaling over worker threads';

interface Options {
  backend: string;
  ns: number[];
  problems: string[];
  extensions: string[];
  repeats: number;
  maxCellS: number;
  minCellS: number;
  out: string;
  child: boolean;
  maxRssGB: number;
  cellTimeoutS: number;
  /** A cell whose warm-up run took longer than this reports that run alone (no timed run). */
  warmupOnlyS: number;
  scaling: 'with' | 'only' | 'skip';
  scalingArgs: string[];
}

interface CellResult {
  quantity: string;
  medianMs: number;
  minMs: number;
  runs: number;
  reduced: boolean;
  /** More runs than --repeats because the cell is faster than --min-cell-s / repeats. */
  extended: boolean;
  /** No timed run: the warm-up took longer than --warmup-only-s, and its time is reported. */
  warmupOnly?: boolean;
  warmupMs: number;
  /** Median CPU time of the process (user + system; the wasm backend is single-threaded) and its system part. */
  cpuMs: number;
  sysMs: number;
  /** Medians of runBatch's own split: compute (forward + extended backward) and reduce. */
  computeMs: number;
  reduceMs: number;
  peakRssMB: number;
  /** Growth of tf.memory().numTensors over the timed runs (after the warm-up). */
  leakedTensors: number;
  /** Set when the cell ran in shards smaller than N (its factor does not fit the wasm heap in one). */
  shardSize?: number;
  shards?: number;
  shardWhy?: string;
}

/** A cell that did not produce a number: why (decided from sizes, or the failure seen at run time). */
interface NotRun {
  quantity: string;
  notRun: string;
  kind: 'size' | 'failed';
}
type Cell = CellResult | NotRun;
const ran = (c: Cell | undefined): c is CellResult => !!c && !('notRun' in c);

interface ProblemMeta {
  numParams: number;
  rssAfterLoadMB: number;
}

interface ProblemResult extends ProblemMeta {
  problem: string;
  N: number;
  backend: string;
  peakRssMB: number;
  /** Peak over grad and the first-order cells only (they run first, before the heap grows further). */
  peakRssFirstMB: number;
  /** Child processes started for this (problem, N): 1 + restarts after failed cells. */
  processes: number;
  cells: Cell[];
}

interface Vocab {
  firstOrder: string[];
  secondOrder: string[];
  all: string[];
}

/** grad + the first-order quantities, then the second-order ones: every quantity --extensions accepts (the default). */
async function vocabulary(): Promise<Vocab> {
  const vocab = (await import('../src/vocabulary.ts')) as { EXTENSION_NAMES: readonly string[]; FIRST_ORDER?: readonly string[] };
  const firstOrder = [...(vocab.FIRST_ORDER ?? ['BatchGrad', 'BatchL2Grad', 'SumGradSquared', 'Variance'])];
  const secondOrder = vocab.EXTENSION_NAMES.filter((e) => !firstOrder.includes(e));
  return { firstOrder, secondOrder, all: ['grad', ...vocab.EXTENSION_NAMES.filter((e) => firstOrder.includes(e)), ...secondOrder] };
}

const USAGE =
  'usage: npm run bench -- [--backend wasm|cpu] [--n 128,1024] [--problems a,b] [--extensions grad,BatchGrad,…] [--repeats 5] ' +
  '[--max-cell-s 5] [--min-cell-s 1] [--max-rss-gb 11] [--cell-timeout-s 150] [--warmup-only-s 20] [--out bench/RESULTS.md] [--no-scaling | --scaling] [--scaling-args "--workers 1,2 …"]';

function parseArgs(argv: string[], vocab: Vocab): Options {
  const valued = new Set(['--backend', '--n', '--problems', '--extensions', '--repeats', '--max-cell-s', '--min-cell-s', '--out', '--max-rss-gb', '--cell-timeout-s', '--warmup-only-s', '--scaling-args']);
  const flags = new Set(['--child', '--scaling', '--no-scaling']);
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    // --scaling-args carries flags of bench/scaling.ts: its value may start with '--'.
    if (v === undefined || (v.startsWith('--') && flag !== '--scaling-args')) throw new Error(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--help' || argv[i] === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument '${argv[i]}'`);
    if (valued.has(argv[i])) i++;
    else if (!flags.has(argv[i])) throw new Error(`unknown flag ${argv[i]}`);
  }
  const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const num = (flag: string, def: number) => {
    const v = get(flag);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got '${v}'`);
    return n;
  };
  const backend = get('--backend') ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu') throw new Error(`--backend must be wasm or cpu, got '${backend}'`);
  const ns = list(get('--n') ?? '128').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--n entries must be positive integers, got '${s}'`);
    return n;
  });
  const problems = get('--problems') ? list(get('--problems')) : listProblems();
  const extensions = get('--extensions') ? list(get('--extensions')) : vocab.all;
  for (const e of extensions) if (!vocab.all.includes(e)) throw new Error(`unknown quantity '${e}'; known: ${vocab.all.join(', ')}`);
  if (argv.includes('--scaling') && argv.includes('--no-scaling')) throw new Error('--scaling and --no-scaling exclude each other');
  return {
    backend,
    ns,
    problems,
    extensions,
    repeats: Math.floor(num('--repeats', 5)),
    // Slow cells get one timed run: the whole default bench (both tables + scaling) stays under ~15 min on 2 cores.
    maxCellS: num('--max-cell-s', 5),
    minCellS: num('--min-cell-s', 1),
    out: get('--out') ?? path.join('bench', 'RESULTS.md'),
    child: argv.includes('--child'),
    // Half the machine by default: the bench shares it with other work.
    maxRssGB: num('--max-rss-gb', Math.floor(os.totalmem() / 2 ** 30 / 2)),
    cellTimeoutS: num('--cell-timeout-s', 150),
    warmupOnlyS: num('--warmup-only-s', 20),
    scaling: argv.includes('--scaling') ? 'only' : argv.includes('--no-scaling') ? 'skip' : 'with',
    scalingArgs: (get('--scaling-args') ?? '').split(/\s+/).filter(Boolean),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const MB = (bytes: number) => bytes / 2 ** 20;

const emit = (tag: string, x: unknown) => process.stdout.write(`${tag}${JSON.stringify(x)}\n`);

/** Child mode: one (problem, N), every requested quantity, one tagged JSON line per cell on stdout. */
async function runChild(opts: Options): Promise<void> {
  const [problemName] = opts.problems;
  const N = opts.ns[0];
  const { useBackend } = await import('../src/backends/select.ts');
  const { runBatch } = await import('../src/api/run.ts');
  const { tf } = await import('../src/core/tf.ts');
  const maxRssBytes = opts.maxRssGB * 2 ** 30;
  const sampler = startRssSampler(maxRssBytes);
  sampler.reset();
  await useBackend(opts.backend);
  if (opts.backend === 'wasm') guardWasmMalloc(tf.backend());
  const p = loadProblem(problemName, N, 0);
  const meta: ProblemMeta = { numParams: p.numParams, rssAfterLoadMB: MB(process.memoryUsage.rss()) };
  emit(META_TAG, meta);
  let vectors: Map<string, HostTensor> | undefined;
  for (const quantity of opts.extensions) {
    const v = quantity === 'grad' ? {} : verdict(p.net, quantity, N, opts.backend, maxRssBytes);
    if (v.reason) {
      process.stderr.write(`  ${problemName} N=${N} ${quantity.padEnd(18)} not run: ${v.reason}\n`);
      emit(CELL_TAG, { quantity, notRun: v.reason, kind: 'size' } satisfies NotRun);
      continue;
    }
    const extensions = quantity === 'grad' ? [] : [quantity as never];
    if (quantity === 'GGNMP' || quantity === 'HMP') vectors ??= makeVectors(p.net);
    const runOptions = { extensions, shardSize: v.shardSize, vectors: quantity === 'GGNMP' || quantity === 'HMP' ? vectors : undefined };
    try {
      let shards = 1;
      const run = () => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const r = runBatch(p.net, p.inputs, p.targets, runOptions);
        const ms = performance.now() - t0;
        const c = process.cpuUsage(c0);
        shards = r.shards;
        if (!Number.isFinite(r.loss)) throw new Error(`${problemName} ${quantity}: non-finite loss ${r.loss}`);
        return { ms, cpuMs: (c.user + c.system) / 1000, sysMs: c.system / 1000, computeMs: r.timings.computeMs, reduceMs: r.timings.reduceMs };
      };
      sampler.reset();
      const warm = run();
      // Counted after the warm-up: the first run of a geometry caches its index maps on purpose.
      const tensorsBefore = tf.memory().numTensors;
      let runs = opts.repeats;
      const budgetMs = opts.maxCellS * 1000;
      if (warm.ms * runs > budgetMs) runs = Math.max(1, Math.floor(budgetMs / warm.ms));
      // Very slow cells: the warm-up is the measurement (its first-run costs are a few % of it).
      const warmupOnly = warm.ms > opts.warmupOnlyS * 1000;
      if (warmupOnly) runs = 0;
      const timed = warmupOnly ? [warm] : [];
      for (let r = 0; r < runs; r++) timed.push(run());
      // Fast cells: keep sampling until --min-cell-s of timed runs (at most MAX_RUNS), so that JIT
      // warm-up and GC pauses do not dominate a 5-run median of a 10 ms cell.
      let spent = timed.reduce((s, t) => s + t.ms, 0);
      while (!warmupOnly && spent < opts.minCellS * 1000 && timed.length < MAX_RUNS) {
        const t = run();
        timed.push(t);
        spent += t.ms;
      }
      runs = timed.length;
      const cell: CellResult = {
        quantity,
        medianMs: median(timed.map((t) => t.ms)),
        minMs: Math.min(...timed.map((t) => t.ms)),
        runs,
        reduced: runs < opts.repeats,
        extended: runs > opts.repeats,
        ...(warmupOnly ? { warmupOnly: true, runs: 0 } : {}),
        warmupMs: warm.ms,
        cpuMs: median(timed.map((t) => t.cpuMs)),
        sysMs: median(timed.map((t) => t.sysMs)),
        computeMs: median(timed.map((t) => t.computeMs)),
        reduceMs: median(timed.map((t) => t.reduceMs)),
        peakRssMB: sampler.peakMB(),
        leakedTensors: tf.memory().numTensors - tensorsBefore,
        ...(v.shardSize ? { shardSize: v.shardSize, shards, shardWhy: v.shardWhy } : {}),
      };
      emit(CELL_TAG, cell);
      process.stderr.write(
        `  ${problemName} N=${N} ${quantity.padEnd(18)} median ${cell.medianMs.toFixed(1).padStart(9)} ms, CPU ${cell.cpuMs.toFixed(0)} ms  (${warmupOnly ? 'warm-up only' : `${runs} run${runs > 1 ? 's' : ''}`}${cell.reduced && !warmupOnly ? ', reduced' : ''}; warm-up ${warm.ms.toFixed(0)} ms${v.shardSize ? `; ${shards} shards of ≤ ${v.shardSize}` : ''})  peak RSS ${cell.peakRssMB.toFixed(0)} MB\n`,
      );
    } catch (e) {
      // The backend may be unusable now (a failed wasm allocation, a half-finished tidy): report
      // and leave; the parent starts a fresh process for the remaining quantities.
      const msg = ((e as Error).message ?? String(e)).split('\n')[0].slice(0, 400);
      process.stderr.write(`  ${problemName} N=${N} ${quantity.padEnd(18)} FAILED: ${msg}\n`);
      emit(CELL_TAG, { quantity, notRun: `failed: ${msg}`, kind: 'failed' } satisfies NotRun);
      await sampler.stop();
      process.exit(3);
    }
  }
  await sampler.stop();
  emit(RESULT_TAG, { done: true });
}

interface ChildOutcome {
  meta?: ProblemMeta;
  cells: Cell[];
  done: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  rssKill?: { rssBytes: number; limitBytes: number };
  timedOut: boolean;
}

function spawnChild(opts: Options, problem: string, N: number, quantities: string[]): Promise<ChildOutcome> {
  const args = [
    '--import', 'tsx', fileURLToPath(import.meta.url), '--child',
    '--backend', opts.backend, '--n', String(N), '--problems', problem,
    '--extensions', quantities.join(','), '--repeats', String(opts.repeats),
    '--max-cell-s', String(opts.maxCellS), '--min-cell-s', String(opts.minCellS), '--max-rss-gb', String(opts.maxRssGB),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const o: ChildOutcome = { cells: [], done: false, code: null, signal: null, stderrTail: '', timedOut: false };
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        o.timedOut = true;
        child.kill('SIGKILL');
      }, opts.cellTimeoutS * 1000);
    };
    arm();
    onLines(child.stdout, (line) => {
      if (line.startsWith(META_TAG)) {
        o.meta = JSON.parse(line.slice(META_TAG.length));
        arm();
      } else if (line.startsWith(CELL_TAG)) {
        o.cells.push(JSON.parse(line.slice(CELL_TAG.length)));
        arm();
      } else if (line.startsWith(RESULT_TAG)) o.done = true;
      else if (line.trim()) process.stdout.write(`${line}\n`);
    });
    child.stderr.on('data', (d) => {
      const s = String(d);
      for (const line of s.split('\n')) {
        if (line.startsWith(RSS_KILL_TAG)) o.rssKill = JSON.parse(line.slice(RSS_KILL_TAG.length));
      }
      process.stderr.write(s);
      o.stderrTail = (o.stderrTail + s).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      o.code = code;
      o.signal = signal;
      resolve(o);
    });
  });
}

/** Why a child died in the middle of a cell, in one line. */
function crashReason(o: ChildOutcome, opts: Options): string {
  if (o.rssKill) return `killed by the bench's RSS watchdog: ${(o.rssKill.rssBytes / 2 ** 30).toFixed(1)} GiB > --max-rss-gb ${opts.maxRssGB}`;
  if (o.timedOut) return `not finished within --cell-timeout-s ${opts.cellTimeoutS} s (warm-up run included); killed`;
  const lines = o.stderrTail.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at ') && !l.startsWith(RSS_KILL_TAG));
  const last = lines.filter((l) => /error|abort|memory|killed/i.test(l)).pop() ?? lines.pop() ?? '';
  return `process died (${o.signal ?? `exit ${o.code}`})${last ? `: ${last.slice(0, 300)}` : ''}`;
}

/**
 * One (problem, N): a child process for all its quantities; after a failed cell a fresh child
 * continues with the rest (a failed wasm allocation can leave the backend unusable).
 */
async function runProblem(opts: Options, problem: string, N: number): Promise<ProblemResult> {
  let remaining = [...opts.extensions];
  const cells: Cell[] = [];
  let meta: ProblemMeta | undefined;
  let processes = 0;
  while (remaining.length > 0) {
    processes++;
    const o = await spawnChild(opts, problem, N, remaining);
    meta ??= o.meta;
    cells.push(...o.cells);
    remaining = remaining.filter((q) => !o.cells.some((c) => c.quantity === q));
    if (o.done || remaining.length === 0) break;
    const lastFailed = o.cells.length > 0 && !ran(o.cells[o.cells.length - 1]) && (o.cells[o.cells.length - 1] as NotRun).kind === 'failed';
    if (lastFailed) continue;
    if (!o.meta) throw new Error(`${problem} N=${N}: benchmark child died before loading the problem (${crashReason(o, opts)})\n${o.stderrTail.slice(-2000)}`);
    // Died inside the next cell without reporting it.
    const q = remaining.shift()!;
    const why = crashReason(o, opts);
    process.stderr.write(`  ${problem} N=${N} ${q.padEnd(18)} FAILED: ${why}\n`);
    cells.push({ quantity: q, notRun: `failed: ${why}`, kind: 'failed' });
  }
  const order = new Map(opts.extensions.map((q, i) => [q, i]));
  cells.sort((a, b) => order.get(a.quantity)! - order.get(b.quantity)!);
  const peaks = cells.filter(ran).map((c) => c.peakRssMB);
  const firstPeaks = cells.filter(ran).filter((c) => c.quantity === 'grad' || isFirstOrder(c.quantity)).map((c) => c.peakRssMB);
  const rssAfterLoadMB = meta?.rssAfterLoadMB ?? 0;
  return {
    problem,
    N,
    backend: opts.backend,
    numParams: meta?.numParams ?? 0,
    rssAfterLoadMB,
    peakRssMB: Math.max(rssAfterLoadMB, ...peaks),
    peakRssFirstMB: Math.max(rssAfterLoadMB, ...firstPeaks),
    processes,
    cells,
  };
}

let FIRST_ORDER_NAMES: string[] = [];
const isFirstOrder = (q: string) => FIRST_ORDER_NAMES.includes(q);

function tfjsVersions(): string {
  const dir = path.join(ROOT, 'node_modules', '@tensorflow');
  try {
    return readdirSync(dir)
      .sort()
      .map((name) => {
        try {
          return `@tensorflow/${name} ${JSON.parse(readFileSync(path.join(dir, name, 'package.json'), 'utf8')).version}`;
        } catch {
          return `@tensorflow/${name} ?`;
        }
      })
      .join(', ');
  } catch {
    return '(node_modules/@tensorflow not found)';
  }
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const esc = (s: string) => s.replace(/\|/g, '\\|');

/** One results table (and its anchors-layout grid) over the given quantities. */
function table(results: ProblemResult[], quantities: string[]): { console: string; markdown: string; grid: string } {
  const header = ['problem', 'N', 'quantity', 'median ms', 'runs', '× grad', 'CPU ms (sys)', 'compute / reduce ms', 'BackPACK CPU-1t ms', 'ours / BackPACK', 'peak RSS MB'];
  const rows: string[][] = [];
  const consoleRows: string[][] = [];
  const notes: string[] = [];
  for (const r of results) {
    const g = r.cells.find((c) => c.quantity === 'grad');
    const grad = ran(g) ? g.medianMs : undefined;
    for (const c of r.cells.filter((x) => quantities.includes(x.quantity))) {
      const anchor = anchorFor(r.problem, r.N, c.quantity);
      if (!ran(c)) {
        const row = [r.problem, String(r.N), c.quantity, `**${c.kind === 'size' ? 'cannot run' : 'failed'}**: ${esc(c.notRun.replace(/^failed: /, ''))}`, '—', '—', '—', '—', anchor === undefined ? '—' : String(anchor), '—', '—'];
        rows.push(row);
        notes.push(`[${notes.length + 1}] ${r.problem} N=${r.N} ${c.quantity}: ${c.kind === 'size' ? 'cannot run' : 'failed'}: ${c.notRun.replace(/^failed: /, '')}`);
        consoleRows.push([...row.slice(0, 3), `${c.kind === 'size' ? 'cannot run' : 'failed'} [${notes.length}]`, ...row.slice(4)]);
        continue;
      }
      const row = [
        r.problem,
        String(r.N),
        c.shardSize ? `${c.quantity} (${c.shards} shards)` : c.quantity,
        fmt(c.medianMs),
        c.warmupOnly ? 'w' : `${c.runs}${c.reduced ? '*' : c.extended ? '+' : ''}`,
        grad ? (c.medianMs / grad).toFixed(2) : '—',
        `${fmt(c.cpuMs)} (${fmt(c.sysMs)})`,
        `${fmt(c.computeMs)} / ${fmt(c.reduceMs)}`,
        anchor === undefined ? '—' : String(anchor),
        anchor === undefined ? '—' : (c.medianMs / anchor).toFixed(2),
        c.peakRssMB.toFixed(0),
      ];
      rows.push(row);
      consoleRows.push(row);
    }
  }
  const widths = header.map((h, j) => Math.max(h.length, ...consoleRows.map((r) => r[j].length)));
  const line = (cells: string[]) => cells.map((c, j) => (j < 3 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  const consoleTable = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...consoleRows.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
  const md = [`| ${header.join(' | ')} |`, `|${header.map((_, j) => (j < 3 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];

  // The anchors' layout: one row per (problem, N), one column per quantity (median ms).
  const grid = [`| problem | N | ${quantities.join(' | ')} |`, `|---|---|${quantities.map(() => '---:').join('|')}|`];
  for (const r of results) {
    const cell = (q: string) => {
      const c = r.cells.find((x) => x.quantity === q);
      if (!c) return '—';
      if (!ran(c)) return c.kind === 'size' ? 'cannot run' : 'failed';
      return `${fmt(c.medianMs)}${c.shardSize ? '§' : ''}`;
    };
    grid.push(`| ${r.problem} | ${r.N} | ${quantities.map(cell).join(' | ')} |`);
    if (r.N === 128 && quantities.some((q) => anchorFor(r.problem, r.N, q) !== undefined)) {
      grid.push(`| *BackPACK CPU-1t* | 128 | ${quantities.map((q) => String(anchorFor(r.problem, r.N, q) ?? '—')).join(' | ')} |`);
    }
  }
  return { console: consoleTable, markdown: md.join('\n'), grid: grid.join('\n') };
}

function tables(results: ProblemResult[], opts: Options): { console: string; markdown: string } {
  const first = opts.extensions.filter((q) => q === 'grad' || isFirstOrder(q));
  const second = opts.extensions.filter((q) => q !== 'grad' && !isFirstOrder(q));
  const t1 = first.length ? table(results, first) : null;
  const t2 = second.length ? table(results, second) : null;

  const mem = ['| problem | N | parameters | RSS after load MB | peak RSS, grad + first-order MB | peak RSS, all cells MB | processes |', '|---|---|---:|---:|---:|---:|---:|'];
  for (const r of results) {
    mem.push(`| ${r.problem} | ${r.N} | ${r.numParams.toLocaleString('en-US')} | ${r.rssAfterLoadMB.toFixed(0)} | ${r.peakRssFirstMB.toFixed(0)} | ${r.peakRssMB.toFixed(0)} | ${r.processes} |`);
  }
  const all = results.flatMap((r) => r.cells.map((c) => ({ r, c })));
  const leaks = all.filter(({ c }) => ran(c) && c.leakedTensors !== 0).map(({ r, c }) => `${r.problem} N=${r.N} ${c.quantity}: ${(c as CellResult).leakedTensors} tensors`);
  const warmOnly = all.filter(({ c }) => ran(c) && c.warmupOnly).map(({ r, c }) => `${r.problem} N=${r.N} ${c.quantity} (${fmt((c as CellResult).warmupMs / 1000)} s)`);
  const reduced = all.filter(({ c }) => ran(c) && c.reduced && !c.warmupOnly).map(({ r, c }) => `${r.problem} N=${r.N} ${c.quantity} (${(c as CellResult).runs} of ${opts.repeats}; warm-up ${fmt((c as CellResult).warmupMs)} ms)`);
  const sharded = all.filter(({ c }) => ran(c) && c.shardSize).map(({ r, c }) => `${r.problem} N=${r.N} ${c.quantity}: ${(c as CellResult).shardWhy}`);
  const sizeSkips = all.filter(({ c }) => !ran(c) && c.kind === 'size').length;
  const failures = all.filter(({ c }) => !ran(c) && c.kind === 'failed').map(({ r, c }) => `${r.problem} N=${r.N} ${c.quantity}`);

  const markdown = [
    ...(t1 ? ['### grad and first-order quantities', '', t1.markdown, '', "Same medians in the anchors' layout (ms):", '', t1.grid, ''] : []),
    ...(t2
      ? [
          '### Second-order quantities',
          '',
          'GGNMP/HMP: products with V = 1 standard-normal vector per parameter (BackPACK has no anchor for them). "cannot run" cells were decided from sizes before running (bench/limits.ts); "failed" cells failed at run time, in their own process.',
          '',
          t2.markdown,
          '',
          "Same medians in the anchors' layout (ms; § = ran in shards, see below):",
          '',
          t2.grid,
          '',
        ]
      : []),
    'Memory per (problem, N) (process.memoryUsage().rss sampled every 2 ms on a helper thread; includes Node, tsx, the wasm heap — which never gives memory back — and the JS copies of the results; per-cell peaks are in the tables). One process per (problem, N), all its quantities in order; "processes" > 1 when a failed cell made the bench continue in a fresh process:',
    '',
    mem.join('\n'),
    '',
    reduced.length
      ? `\\* Fewer timed runs than --repeats ${opts.repeats}, because the warm-up showed ${opts.repeats} runs would exceed --max-cell-s ${opts.maxCellS}: ${reduced.join('; ')}.`
      : `No cell got fewer than --repeats ${opts.repeats} timed runs.`,
    ...(warmOnly.length
      ? ['', `w: The warm-up run took longer than --warmup-only-s ${opts.warmupOnlyS} s, so it is the cell's only (reported) run — its first-run costs (index maps, wasm heap growth) are a few % of such a run (measured when this rule was set: 2c2d GGNMP warm-up 40.1 s vs 39.0 s timed, 3c3d GGNMP 16.0 vs 15.3 s): ${warmOnly.join('; ')}.`]
      : []),
    ...(all.some(({ c }) => ran(c) && c.extended)
      ? ['', `\\+ More timed runs than --repeats: a cell whose ${opts.repeats} runs took less than --min-cell-s ${opts.minCellS} keeps sampling until ${opts.minCellS} s of timed runs (at most ${MAX_RUNS}), so that JIT warm-up and GC pauses do not decide the median of a 10 ms cell.`]
      : []),
    ...(sharded.length ? ['', `§ Ran as several shards of runBatch (partials merged as usual) because one shard of N does not fit the wasm heap: ${sharded.join('; ')}.`] : []),
    ...(sizeSkips || failures.length
      ? ['', `Not run: ${sizeSkips} cell(s) decided from sizes before running${failures.length ? `; failed at run time: ${failures.join(', ')}` : ''} (reasons in the tables).`]
      : []),
    '',
    leaks.length ? `**Tensor leaks** (growth of tf.memory().numTensors over a cell's timed runs): ${leaks.join('; ')}.` : "No tensor leaks (tf.memory().numTensors unchanged over every cell's timed runs).",
  ].join('\n');
  return { console: [t1?.console, t2?.console].filter(Boolean).join('\n\n'), markdown };
}

/** The measured code: HEAD's short hash, and whether src/ had uncommitted changes. */
function codeVersion(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return `${head}${dirty ? ` + uncommitted changes in src/ (${dirty.split('\n').map((l) => l.slice(3)).join(', ')})` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

function commandLine(): string {
  const args = process.argv.slice(2).map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ');
  return process.env.npm_lifecycle_event === 'bench' ? `npm run bench${args ? ` -- ${args}` : ''}` : `node --import tsx bench/run.ts${args ? ` ${args}` : ''}`;
}

/** How the scaling section was produced: the bench command and the bench/scaling.ts line it ran. */
function scalingCommand(opts: Options): string {
  return `\`${commandLine()}\`, which runs \`node --import tsx bench/scaling.ts${opts.scalingArgs.length ? ` ${opts.scalingArgs.join(' ')}` : ''}\``;
}

/** Runs bench/scaling.ts in its own process and returns its markdown section. */
function runScaling(opts: Options): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-scaling-'));
  const md = path.join(dir, 'scaling.md');
  const args = ['--import', 'tsx', path.join(HERE, 'scaling.ts'), '--backend', opts.backend, ...opts.scalingArgs, '--md', md];
  console.log(`\nscaling: node ${args.slice(2).join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        if (code !== 0 || !existsSync(md)) return reject(new Error(`bench/scaling.ts exited with ${code}`));
        resolve(readFileSync(md, 'utf8'));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/** Replaces (or appends) the scaling section of an existing results file. */
function withScalingSection(doc: string, section: string): string {
  const i = doc.indexOf(SCALING_HEADING);
  if (i < 0) return `${doc.trimEnd()}\n\n${section.trim()}\n`;
  const rest = doc.slice(i + SCALING_HEADING.length);
  const next = rest.search(/\n## /);
  return `${doc.slice(0, i)}${section.trim()}\n${next >= 0 ? rest.slice(next) : ''}`;
}

async function main(): Promise<void> {
  const vocab = await vocabulary();
  FIRST_ORDER_NAMES = vocab.firstOrder;
  const opts = parseArgs(process.argv.slice(2), vocab);
  if (opts.child) return runChild(opts);
  const outPath = path.resolve(ROOT, opts.out);

  if (opts.scaling === 'only') {
    const section = await runScaling(opts);
    const doc = existsSync(outPath) ? readFileSync(outPath, 'utf8') : '# backpack-ts benchmark results\n';
    mkdirSync(path.dirname(outPath), { recursive: true });
    writeFileSync(outPath, withScalingSection(doc, section.replace('{{COMMAND}}', scalingCommand(opts))));
    console.log(`wrote the scaling section of ${path.relative(process.cwd(), outPath)}`);
    return;
  }

  const started = new Date();
  const loadBefore = os.loadavg();
  const version = codeVersion();
  const t0 = performance.now();
  console.log(`backpack-ts bench: backend ${opts.backend}, N ${opts.ns.join(',')}, problems ${opts.problems.join(',')}, quantities ${opts.extensions.join(',')}, repeats ${opts.repeats} (+1 warm-up), max ${opts.maxCellS} s per cell`);
  console.log(`load average at start: ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
  const results: ProblemResult[] = [];
  for (const problem of opts.problems) {
    for (const N of opts.ns) results.push(await runProblem(opts, problem, N));
  }
  const cellsS = (performance.now() - t0) / 1000;
  const loadAfterCells = os.loadavg()[0];
  const { console: tableText, markdown } = tables(results, opts);
  console.log(`\n${tableText}\n`);

  let scaling: string | null = null;
  if (opts.scaling === 'with') {
    try {
      scaling = await runScaling(opts);
    } catch (e) {
      // Keep the tables: the scaling section then says what went wrong.
      scaling = `${SCALING_HEADING}\n\n- command: {{COMMAND}}\n\n**Failed**: ${(e as Error).message}\n`;
    }
  }
  const totalS = (performance.now() - t0) / 1000;

  const cpus = os.cpus();
  const doc = [
    '# backpack-ts benchmark results',
    '',
    `- command: \`${commandLine()}\``,
    `- date: ${started.toISOString()} (total ${totalS.toFixed(0)} s${scaling ? `: ${cellsS.toFixed(0)} s per-quantity tables, ${(totalS - cellsS).toFixed(0)} s scaling` : ''}); code: ${version}`,
    `- machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}`,
    `- load average (1 min) at start / after the tables${scaling ? ' / end' : ''}: ${loadBefore[0].toFixed(2)} / ${loadAfterCells.toFixed(2)}${scaling ? ` / ${os.loadavg()[0].toFixed(2)}` : ''} (5 / 15 min at start: ${loadBefore[1].toFixed(2)} / ${loadBefore[2].toFixed(2)}; the tables use one core; other work on the machine skews timings)`,
    `- Node ${process.version}; ${tfjsVersions()}`,
    `- backend: ${opts.backend} (single-threaded in Node); one process per (problem, N); float32`,
    `- measured: wall time of one full \`runBatch\` (forward + extended backward + merge/finalise, one shard unless marked), median of the timed runs after 1 warm-up (at most --max-cell-s ${opts.maxCellS} s of timed runs per cell, at least 1 run); \`grad\` = runBatch with extensions []. "CPU ms (sys)": median process CPU time of the same runs (user + system, and the system part: page faults of fresh memory show up there); it is what a busy machine inflates least. "compute / reduce": runBatch's own split (shards vs merge + finalise)`,
    `- data: bench/problem.ts — PyTorch-like uniform(±1/√fan_in) weights (seeded), standard-normal inputs, labels uniform in [0, 10)`,
    `- anchor: ${ANCHOR_SOURCE}; "ours / BackPACK" < 1 means faster than BackPACK`,
    `- limits: wasm heap 4 GiB (wasm32); RSS watchdog --max-rss-gb ${opts.maxRssGB}; --cell-timeout-s ${opts.cellTimeoutS}; cells whose warm-up exceeds --warmup-only-s ${opts.warmupOnlyS} s report that run only`,
    '',
    markdown,
    '',
    ...(scaling ? [scaling.replace('{{COMMAND}}', scalingCommand(opts)).trim(), ''] : []),
  ].join('\n');
  mkdirSync(path.dirname(outPath), { recursive: true });
  writeFileSync(outPath, doc);
  console.log(`wrote ${path.relative(process.cwd(), outPath)} (${totalS.toFixed(0)} s)`);
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).message?.slice(0, 4000) ?? e}`);
  process.exit(1);
});
