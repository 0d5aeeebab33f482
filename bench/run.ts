/**
 * The benchmark: per (problem, N, quantity), the median wall time of our run loop in a "1 core"
 * and a "2 cores" configuration, side by side with BackPACK timed in the same run on the same
 * machine (--compare-backpack), written to bench/RESULTS.md.
 *
 *   npm run bench -- [--backend auto|native|wasm|cpu] [--cores 1|2|1,2] [--compare-backpack]
 *                    [--n 128[,1024]] [--problems a,b] [--extensions grad,BatchGrad,…]
 *                    [--warmups 2] [--min-warmup-s 2] [--max-warmups 1000] [--repeats 3] [--min-cell-s 2] [--max-runs 1000] [--max-cell-s 5] [--out bench/RESULTS.md]
 *   npm run bench -- --memory        the memory cell only (bench/memory-cell.ts), its section of --out
 *   npm run bench -- --scaling       worker scaling only (bench/scaling.ts), its section of --out
 *   npm run bench -- --startup       start-up CPU time only (bench/startup.ts), its section of --out
 *
 * Ours (bench/ours.ts, one child process per (problem, N, cores), peak RSS per process):
 * - 1 core: one in-process runBatch on the backend with 1 kernel thread;
 * - 2 cores: the faster of 2 worker threads × 1 kernel thread (runJobOnPool on
 *   createPool('threads', 2), shards of N/2) and one in-process runBatch with 2 kernel threads
 *   (native only: wasm and cpu are single-threaded, their 2-core cell is the pool alone).
 * `grad` is the run with extensions []; every other quantity runs alone.
 *
 * BackPACK (bench/backpack.ts → bench/backpack/time_backpack.py): torch.set_num_threads(1) for the
 * 1-core table and 2 for the 2-core one, jemalloc with decay off. Interleaved so that drift of a
 * shared machine hits both sides alike: per (problem, N, cores), BackPACK's process and ours run
 * side by side and take turns on the cores in slices of 100 ms, quantity by quantity
 * (bench/turns.ts); with --back-to-back, BackPACK 1 thread, ours 1 core, BackPACK 2 threads, ours
 * 2 cores, one after the other. BackPACK times the anchor quantities (grad, BatchGrad,
 * BatchL2Grad, SumGradSquared, Variance, DiagGGNExact, DiagGGNMC, KFAC, KFLR, DiagHessian); the
 * other quantities run on our side only (their own tables).
 *
 * Hygiene, both sides alike: at least --warmups untimed runs (more while they total less than
 * --min-warmup-s, at most --max-warmups), then at least --repeats timed runs, more while
 * they total less than --min-cell-s (at most --max-runs), none beyond --repeats once --max-cell-s is spent;
 * median wall time, median process CPU time beside it; an event-loop turn before each of our runs
 * (see bench/ours.ts); load average at the start and end of every (problem, N) and of the run.
 *
 * Targets: ours / BackPACK ≤ 1.0 in every cell, geometric mean ≤ 0.7 per table. A cell above 1.0
 * gets one profiled run (per kernel, bench/kernel-timer.ts) and the report names its heaviest kernels.
 *
 *   more flags: [--max-rss-gb 11] [--cell-timeout-s 600] [--no-profile] [--no-scaling | --scaling] [--scaling-args "…"]
 *               [--memory-n 2000] [--memory-max-memory 1G] [--memory-workers 2] [--memory-dir DIR] [--memory-kill-gb 12] [--memory-timeout-s 3600]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANCHOR_SOURCE } from './anchors.ts';
import { findBackpack, MALLOC_CONF, runBackpackBlock, type BackpackPython } from './backpack.ts';
import { onLines } from './lines.ts';
import { MEMORY_HEADING, runMemoryCell } from './memory-cell.ts';
import { measureStartup, STARTUP_HEADING } from './startup.ts';
import { listProblems } from './problem.ts';
import { procAvailable, sampleTree } from './proc.ts';
import { comparisonTable, detailsTable, missesSection, oursOnlyGrid, processTable, verdictLine } from './report.ts';
import { RSS_KILL_TAG } from './rss.ts';
import { TURN_MS, Turns, turnLines } from './turns.ts';
import { ANCHOR_QUANTITIES, CELL_TAG, CELL_TARGET, DONE_TAG, META_TAG, PART_TAG, PROFILE_TAG, TICK_TAG, type CellProfile, type InProcessTiming, type ChildSpec, GEOMEAN_TARGET, ran, type BackpackBlock, type Cell, type Cores, type NotRun, type OurBlock, type ProblemRun, type ProcessMeta, type CellRuns } from './types.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
/** The heading of bench/scaling.ts's section in --out. */
export const SCALING_HEADING = '## Scaling over worker threads';

interface Options extends CellRuns {
  backendChoice: string;
  cores: Cores[];
  compareBackpack: boolean;
  ns: number[];
  problems: string[];
  extensions: string[];
  out: string;
  maxRssGB: number;
  cellTimeoutS: number;
  profile: boolean;
  /** Time BackPACK and ours side by side, taking turns (bench/turns.ts); false: back to back. */
  turns: boolean;
  scaling: 'with' | 'only' | 'skip';
  scalingArgs: string[];
  memory: boolean;
  memoryN: number;
  memoryMaxMemory: string;
  memoryWorkers: number;
  memoryDir?: string;
  memoryKillGB: number;
  memoryTimeoutS: number;
}

/** grad, the anchor quantities, then every other quantity --extensions accepts (the default). */
async function vocabulary(): Promise<string[]> {
  const vocab = (await import('../src/vocabulary.ts')) as { EXTENSION_NAMES: readonly string[] };
  const anchors = ANCHOR_QUANTITIES.filter((q) => q === 'grad' || vocab.EXTENSION_NAMES.includes(q));
  return [...anchors, ...vocab.EXTENSION_NAMES.filter((e) => !(anchors as string[]).includes(e))];
}

const USAGE =
  'usage: npm run bench -- [--backend auto|native|wasm|cpu] [--cores 1|2|1,2] [--compare-backpack [--back-to-back]] [--n 128,1024] [--problems a,b] ' +
  '[--extensions grad,BatchGrad,…] [--warmups 2] [--min-warmup-s 2] [--max-warmups 1000] [--repeats 3] [--min-cell-s 2] [--max-runs 1000] [--max-cell-s 5] [--max-rss-gb 11] [--cell-timeout-s 600] ' +
  '[--no-profile] [--out bench/RESULTS.md] [--no-scaling | --scaling] [--scaling-args "--workers 1,2 …"]\n' +
  '       npm run bench -- --memory [--memory-n 2000] [--memory-max-memory 1G] [--memory-workers 2] [--memory-dir DIR] [--memory-kill-gb 12] [--memory-timeout-s 3600] [--out bench/RESULTS.md]\n' +
  '       npm run bench -- --startup [--backend auto] [--out bench/RESULTS.md]';

function parseArgs(argv: string[], all: string[]): Options {
  const valued = new Set([
    '--backend', '--cores', '--n', '--problems', '--extensions', '--warmups', '--min-warmup-s', '--max-warmups', '--repeats', '--max-cell-s', '--min-cell-s', '--max-runs', '--out',
    '--max-rss-gb', '--cell-timeout-s', '--scaling-args', '--memory-n', '--memory-max-memory', '--memory-workers', '--memory-dir',
    '--memory-kill-gb', '--memory-timeout-s',
  ]);
  const flags = new Set(['--compare-backpack', '--back-to-back', '--no-profile', '--scaling', '--no-scaling', '--memory', '--startup']);
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
    else if (!flags.has(argv[i])) throw new Error(`unknown flag ${argv[i]}\n${USAGE}`);
  }
  const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const num = (flag: string, def: number, int = false) => {
    const v = get(flag);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n))) throw new Error(`${flag} must be a positive ${int ? 'integer' : 'number'}, got '${v}'`);
    return n;
  };
  const backendChoice = get('--backend') ?? 'auto';
  if (!['auto', 'native', 'wasm', 'cpu'].includes(backendChoice)) throw new Error(`--backend must be auto, native, wasm or cpu, got '${backendChoice}'`);
  const cores = list(get('--cores') ?? '1,2').map((s) => {
    if (s !== '1' && s !== '2') throw new Error(`--cores takes 1, 2 or 1,2; got '${s}'`);
    return Number(s) as Cores;
  });
  const ns = list(get('--n') ?? '128').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--n entries must be positive integers, got '${s}'`);
    return n;
  });
  const problems = get('--problems') ? list(get('--problems')) : listProblems();
  for (const p of problems) if (!listProblems().includes(p)) throw new Error(`unknown problem '${p}'; known: ${listProblems().join(', ')}`);
  const requested = get('--extensions') ? list(get('--extensions')) : all;
  for (const e of requested) if (!all.includes(e)) throw new Error(`unknown quantity '${e}'; known: ${all.join(', ')}`);
  // Anchor quantities first, in the anchors' order: their cells are timed while BackPACK's are fresh.
  const extensions = all.filter((q) => requested.includes(q));
  if (argv.includes('--scaling') && argv.includes('--no-scaling')) throw new Error('--scaling and --no-scaling exclude each other');
  return {
    backendChoice,
    cores: [...new Set(cores)].sort() as Cores[],
    compareBackpack: argv.includes('--compare-backpack'),
    ns,
    problems,
    extensions,
    warmups: num('--warmups', 2, true),
    // Our engine's JS reaches optimised code only after some hundreds of runs of a fast cell
    // (docs/benchmarks.md, "How a cell is timed"); a training loop runs thousands. PyTorch needs no such warm-up
    // but gets the same rule.
    minWarmupS: num('--min-warmup-s', 2),
    maxWarmups: num('--max-warmups', 1000, true),
    repeats: num('--repeats', 3, true),
    maxCellS: num('--max-cell-s', 5),
    // Timed runs over ≥ 2 s, up to 1 000 of them: a fast cell's runs then span some 20 turns of
    // 100 ms per side (bench/turns.ts), not 3, and a burst of other work hits both sides alike.
    minCellS: num('--min-cell-s', 2),
    maxRuns: num('--max-runs', 1000, true),
    out: get('--out') ?? path.join('bench', 'RESULTS.md'),
    // Half the machine by default: the bench shares it with other work. (Side by side, both sides'
    // processes are alive at once, each under this limit; at N = 128 neither comes near it.)
    maxRssGB: num('--max-rss-gb', Math.floor(os.totalmem() / 2 ** 30 / 2)),
    cellTimeoutS: num('--cell-timeout-s', 600),
    profile: !argv.includes('--no-profile'),
    turns: !argv.includes('--back-to-back'),
    scaling: argv.includes('--scaling') ? 'only' : argv.includes('--no-scaling') ? 'skip' : 'with',
    scalingArgs: (get('--scaling-args') ?? '').split(/\s+/).filter(Boolean),
    memory: argv.includes('--memory'),
    memoryN: num('--memory-n', 2000, true),
    memoryMaxMemory: get('--memory-max-memory') ?? '1G',
    memoryWorkers: num('--memory-workers', 2, true),
    memoryDir: get('--memory-dir'),
    memoryKillGB: num('--memory-kill-gb', Math.max(4, Math.floor(os.totalmem() / 2 ** 30 / 2))),
    memoryTimeoutS: num('--memory-timeout-s', 3600),
  };
}

// ---------------------------------------------------------------------------------------------
// Our side: one child process per (problem, N, cores)

interface ChildOutcome {
  meta?: ProcessMeta;
  cells: Cell[];
  /** A profile-only child's profiles (ChildSpec.profileOnly). */
  profiles: { quantity: string; profile: CellProfile }[];
  /** A 2-core cell's in-process variant, reported before its pool variant ran. */
  part?: { quantity: string; inProcess: InProcessTiming; peakRssMB: number };
  done: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  rssKill?: { rssBytes: number; limitBytes: number };
  timedOut: boolean;
  peakBytes: number;
}

function spawnChild(spec: ChildSpec, timeoutS: number, turns?: Turns): Promise<ChildOutcome> {
  const args = ['--import', 'tsx', path.join(HERE, 'ours.ts'), JSON.stringify({ ...spec, turns: turns !== undefined })];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: [turns ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const turnLine = turns ? turnLines(turns, 'ours', child) : () => false;
    const o: ChildOutcome = { cells: [], profiles: [], done: false, code: null, signal: null, stderrTail: '', timedOut: false, peakBytes: 0 };
    const sampler = procAvailable && child.pid ? sampleTree(child.pid, 20) : null;
    let timer: NodeJS.Timeout | undefined;
    // Re-armed at every run (warm-up or timed): the limit is per run, not per cell. Loading the
    // problem (and starting tsx) gets at least 5 minutes.
    const arm = (s = timeoutS) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        o.timedOut = true;
        child.kill('SIGKILL');
      }, s * 1000);
    };
    arm(Math.max(timeoutS, 300));
    onLines(child.stdout!, (line) => {
      if (turnLine(line)) return;
      if (line.startsWith(TICK_TAG)) arm();
      else if (line.startsWith(PROFILE_TAG)) o.profiles.push(JSON.parse(line.slice(PROFILE_TAG.length)));
      else if (line.startsWith(PART_TAG)) {
        o.part = JSON.parse(line.slice(PART_TAG.length));
        arm();
      } else if (line.startsWith(META_TAG)) {
        o.meta = JSON.parse(line.slice(META_TAG.length));
        arm();
      } else if (line.startsWith(CELL_TAG)) {
        o.cells.push(JSON.parse(line.slice(CELL_TAG.length)));
        arm();
      } else if (line.startsWith(DONE_TAG)) o.done = true;
      else if (line.trim()) process.stdout.write(`${line}\n`);
    });
    child.stderr!.on('data', (d) => {
      const s = String(d);
      for (const line of s.split('\n')) {
        if (line.startsWith(RSS_KILL_TAG)) o.rssKill = JSON.parse(line.slice(RSS_KILL_TAG.length));
      }
      process.stderr.write(s.split('\n').filter((l) => !l.startsWith(RSS_KILL_TAG)).join('\n'));
      o.stderrTail = (o.stderrTail + s).slice(-4000);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      turns?.exited('ours');
      sampler?.stop();
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      turns?.exited('ours');
      o.peakBytes = sampler?.stop() ?? 0;
      o.code = code;
      o.signal = signal;
      resolve(o);
    });
  });
}

/** Why a child died in the middle of a cell, in one line. */
function crashReason(o: ChildOutcome, opts: Options): string {
  if (o.rssKill) return `killed by the bench's RSS watchdog: ${(o.rssKill.rssBytes / 2 ** 30).toFixed(1)} GiB > --max-rss-gb ${opts.maxRssGB}`;
  if (o.timedOut) return `no progress within --cell-timeout-s ${opts.cellTimeoutS} s (one run); killed`;
  const lines = o.stderrTail.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at ') && !l.startsWith(RSS_KILL_TAG));
  const last = lines.filter((l) => /error|abort|memory|killed|corrupt/i.test(l)).pop() ?? lines.pop() ?? '';
  return `process died (${o.signal ?? `exit ${o.code}`})${last ? `: ${last.slice(0, 300)}` : ''}`;
}

/** Our side of one (problem, N, cores); after a failed cell a fresh child continues with the rest. */
async function runOurBlock(opts: Options, backend: string, problem: string, N: number, cores: Cores, backpackMs: Record<string, number> | undefined, turns?: Turns): Promise<OurBlock> {
  const t0 = performance.now();
  let remaining = [...opts.extensions];
  const cells: Cell[] = [];
  let meta: ProcessMeta | undefined;
  let processes = 0;
  let peakBytes = 0;
  while (remaining.length > 0) {
    processes++;
    const o = await spawnChild(
      {
        ...cellRuns(opts), backend, problem, N, cores, quantities: remaining, maxRssGB: opts.maxRssGB, backpackMs, profile: opts.profile,
      },
      opts.cellTimeoutS,
      turns,
    );
    meta ??= o.meta;
    peakBytes = Math.max(peakBytes, o.peakBytes);
    cells.push(...o.cells);
    remaining = remaining.filter((q) => !o.cells.some((c) => c.quantity === q));
    if (o.done || remaining.length === 0) break;
    const last = o.cells[o.cells.length - 1];
    if (last && !ran(last) && last.kind === 'failed') continue;
    if (!o.meta) throw new Error(`${problem} N=${N}: benchmark child died before loading the problem (${crashReason(o, opts)})\n${o.stderrTail.slice(-2000)}`);
    // Died inside the next cell without reporting it.
    const q = remaining.shift()!;
    const why = crashReason(o, opts);
    const part = o.part?.quantity === q ? o.part : undefined;
    process.stderr.write(`  ours ${cores} core${cores > 1 ? 's' : ''} ${problem} N=${N} ${q.padEnd(18)} ${part ? '2 workers × 1 ' : ''}FAILED: ${why}\n`);
    if (part) {
      // The in-process variant had finished: the cell stands on it alone.
      cells.push({
        quantity: q, cores, inProcess: part.inProcess, best: 'inProcess', medianMs: part.inProcess.medianMs, cpuMs: part.inProcess.cpuMs,
        peakRssMB: Math.max(part.peakRssMB, o.peakBytes / 2 ** 20), variantNote: `2 workers × 1 thread: ${why}`,
      });
    } else cells.push({ quantity: q, cores, notRun: `failed: ${why}`, kind: 'failed' } satisfies NotRun);
  }
  const order = new Map(opts.extensions.map((q, i) => [q, i]));
  cells.sort((a, b) => order.get(a.quantity)! - order.get(b.quantity)!);
  const rssAfterLoadMB = meta?.rssAfterLoadMB ?? 0;
  return {
    problem, N, cores, backend,
    numParams: meta?.numParams ?? 0,
    rssAfterLoadMB,
    peakRssMB: Math.max(rssAfterLoadMB, peakBytes / 2 ** 20, ...cells.filter(ran).map((c) => c.peakRssMB)),
    processes,
    cells,
    wallS: (performance.now() - t0) / 1000,
  };
}

/** The run counts of Options, as both sides' children take them. */
const cellRuns = (o: Options): CellRuns => ({
  warmups: o.warmups, minWarmupS: o.minWarmupS, maxWarmups: o.maxWarmups, repeats: o.repeats, minCellS: o.minCellS, maxCellS: o.maxCellS, maxRuns: o.maxRuns,
});

const medians = (b: BackpackBlock): Record<string, number> => Object.fromEntries(b.cells.filter((c) => c.medianMs !== undefined).map((c) => [c.quantity, c.medianMs!]));

/**
 * Side by side, our child does not know BackPACK's times while it measures: the cells over target
 * get their profiled runs afterwards, from a child of their own with the cores to itself.
 */
async function profileMisses(opts: Options, backend: string, block: OurBlock, backpackMs: Record<string, number>): Promise<void> {
  const over = block.cells.filter((c) => ran(c) && backpackMs[c.quantity] !== undefined && c.medianMs / backpackMs[c.quantity]! > CELL_TARGET);
  if (!over.length) return;
  const o = await spawnChild(
    {
      ...cellRuns(opts), backend, problem: block.problem, N: block.N, cores: block.cores, quantities: over.map((c) => c.quantity), maxRssGB: opts.maxRssGB,
      profile: true, profileOnly: true,
    },
    opts.cellTimeoutS,
  );
  for (const { quantity, profile } of o.profiles) {
    const cell = block.cells.find((c) => c.quantity === quantity);
    if (cell && ran(cell)) cell.profile = profile;
  }
}

// ---------------------------------------------------------------------------------------------
// Versions, machine, sections of an existing results file

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

/** CPU model and the vector extensions that matter for GEMM. */
function machine(): string {
  const cpus = os.cpus();
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const f = new Set((/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/));
    flags = ['avx2', 'fma', 'avx512f'].filter((x) => f.has(x)).join(', ');
  } catch {
    // not Linux
  }
  return `${cpus[0]?.model ?? 'unknown CPU'}${flags ? ` (${flags})` : ''}, ${cpus.length} cores (os.availableParallelism ${os.availableParallelism()}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}`;
}

/** The measured code: HEAD's short hash, and whether src/ or native/ had uncommitted changes. */
function codeVersion(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    // trimEnd, not trim: porcelain lines start with a status column that may be a space.
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'native'], { cwd: ROOT, encoding: 'utf8' }).trimEnd();
    return `${head}${dirty ? ` + uncommitted changes in ${dirty.split('\n').map((l) => l.slice(3)).join(', ')}` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

function commandLine(): string {
  const args = process.argv.slice(2).map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ');
  return process.env.npm_lifecycle_event === 'bench' ? `npm run bench${args ? ` -- ${args}` : ''}` : `node --import tsx bench/run.ts${args ? ` ${args}` : ''}`;
}

/** How the scaling section was produced: the bench command and the bench/scaling.ts line it ran. */
function scalingCommand(opts: Options, backend: string): string {
  return `\`${commandLine()}\`, which runs \`node --import tsx bench/scaling.ts --backend ${backend}${opts.scalingArgs.length ? ` ${opts.scalingArgs.join(' ')}` : ''}\``;
}

/** Runs bench/scaling.ts in its own process and returns its markdown section. */
function runScaling(opts: Options, backend: string): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-scaling-'));
  const md = path.join(dir, 'scaling.md');
  const args = ['--import', 'tsx', path.join(HERE, 'scaling.ts'), '--backend', backend, ...opts.scalingArgs, '--md', md];
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

/** The text of a `## heading` section of a results file (up to the next `## `), or null. */
function sectionOf(doc: string, heading: string): string | null {
  const i = doc.indexOf(`${heading}\n`);
  if (i < 0) return null;
  const rest = doc.slice(i + heading.length);
  const next = rest.search(/\n## /);
  return doc.slice(i, next >= 0 ? i + heading.length + next : undefined).trim();
}

/** Replaces (or appends) a section of an existing results file. */
function withSection(doc: string, heading: string, section: string): string {
  const i = doc.indexOf(`${heading}\n`);
  if (i < 0) return `${doc.trimEnd()}\n\n${section.trim()}\n`;
  const rest = doc.slice(i + heading.length);
  const next = rest.search(/\n## /);
  return `${doc.slice(0, i)}${section.trim()}\n${next >= 0 ? rest.slice(next) : ''}`;
}

/**
 * How idle the waiting side was: the CPU time the other process used during each side's turns, per
 * second of turn. It is stopped (SIGSTOP) for the turn; what remains falls between the parent's
 * reading of its CPU time and the stop, and /proc counts in 10 ms ticks.
 */
function turnsLine(runs: ProblemRun[]): string[] {
  const sum = (side: string) => {
    let turnMs = 0;
    let othersCpuMs = 0;
    for (const r of runs) for (const l of Object.values(r.turns ?? {})) {
      turnMs += l?.[side]?.turnMs ?? 0;
      othersCpuMs += l?.[side]?.othersCpuMs ?? 0;
    }
    return { turnMs, othersCpuMs };
  };
  const bp = sum('backpack');
  const ours = sum('ours');
  if (!bp.turnMs || !ours.turnMs) return [];
  const perS = (x: { turnMs: number; othersCpuMs: number }) => `${((1000 * x.othersCpuMs) / x.turnMs).toFixed(0)} ms per s`;
  return [
    `- side by side: during BackPACK's turns (${(bp.turnMs / 1000).toFixed(0)} s in all) our waiting process used ${perS(bp)} of CPU; during ours (${(ours.turnMs / 1000).toFixed(0)} s), BackPACK's waiting process used ${perS(ours)} (/proc/PID/stat, 10 ms ticks)`,
  ];
}

/** A warning line when other work shared the cores (the load average above the machine's cores). */
function loadWarning(runs: ProblemRun[], overall: number[]): string[] {
  const cores = os.cpus().length;
  const peak = Math.max(...overall, ...runs.flatMap((r) => [r.loadStart, r.loadEnd]));
  if (peak <= cores + 0.5) return [];
  return [
    `- **Warning**: the 1-min load average reached ${peak.toFixed(1)} on this ${cores}-core machine during the run: other work shared the cores, so wall times (and ratios) are unreliable — the 2-core BackPACK cells most of all (OpenMP threads spin-wait for each other and degrade badly when the cores are oversubscribed). Rerun on a quiet machine; meanwhile the CPU-time ratios in the details are the better guide.`,
  ];
}

async function resolveChoice(choice: string): Promise<{ backend: string; library: string; note: string }> {
  const { resolveBackend } = await import('../src/backends/select.ts');
  const r = await resolveBackend(choice);
  if (r.backend === 'cuda') {
    // The cuda backend has only its device probe so far: the bench times native (or wasm) instead.
    const n = await resolveBackend('native').catch(() => null);
    const { nativeAvailability } = await import('../src/backends/native/availability.ts');
    if (n && nativeAvailability().ok) return { backend: 'native', library: n.library, note: 'auto chose cuda, which has no kernels yet: timing native' };
    return { backend: 'wasm', library: 'XNNPACK (tfjs-backend-wasm)', note: 'auto chose cuda, which has no kernels yet, and native is not built: timing wasm' };
  }
  return { backend: r.backend, library: r.library, note: r.why ? `auto passed over ${r.why}` : '' };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const all = await vocabulary();
  const opts = parseArgs(process.argv.slice(2), all);
  const outPath = path.resolve(ROOT, opts.out);
  const existing = existsSync(outPath) ? readFileSync(outPath, 'utf8') : '# backpack-ts benchmark results\n';
  const save = (doc: string) => {
    mkdirSync(path.dirname(outPath), { recursive: true });
    writeFileSync(outPath, doc);
  };

  if (process.argv.includes('--startup')) {
    save(withSection(existing, STARTUP_HEADING, measureStartup({ repeats: 5, backend: opts.backendChoice })));
    console.log(`wrote the start-up section of ${path.relative(process.cwd(), outPath)}`);
    return;
  }

  if (opts.memory) {
    const r = await resolveChoice('native');
    const section = await runMemoryCell(
      { N: opts.memoryN, maxMemory: opts.memoryMaxMemory, workers: opts.memoryWorkers, backend: 'native', dir: opts.memoryDir, killAboveGB: opts.memoryKillGB, timeoutS: opts.memoryTimeoutS, targetGB: 3 },
      commandLine(),
    );
    const withLib = section.replace('\n- job:', `\n- backend: native (${r.library || 'not available here'}), ${opts.memoryWorkers} worker threads × 1 kernel thread; machine: ${machine()}; Node ${process.version}; code: ${codeVersion()}\n- job:`);
    save(withSection(existing, MEMORY_HEADING, withLib));
    console.log(`wrote the memory-cell section of ${path.relative(process.cwd(), outPath)}`);
    return;
  }

  const { backend, library, note } = await resolveChoice(opts.backendChoice);
  if (opts.scaling === 'only') {
    const section = await runScaling(opts, backend);
    save(withSection(existing, SCALING_HEADING, section.replace('{{COMMAND}}', scalingCommand(opts, backend))));
    console.log(`wrote the scaling section of ${path.relative(process.cwd(), outPath)}`);
    return;
  }

  const comparable = opts.extensions.filter((q) => (ANCHOR_QUANTITIES as readonly string[]).includes(q));
  const others = opts.extensions.filter((q) => !(ANCHOR_QUANTITIES as readonly string[]).includes(q));
  let bp: BackpackPython | null = null;
  let bpSkip = '';
  if (opts.compareBackpack) {
    const found = findBackpack();
    if ('skip' in found) {
      bpSkip = found.skip;
      console.log(found.skip);
    } else bp = found;
  }

  const started = new Date();
  const loadBefore = os.loadavg();
  const version = codeVersion();
  const t0 = performance.now();
  console.log(
    `backpack-ts bench: backend ${backend}${library ? ` (${library})` : ''}${note ? ` [${note}]` : ''}, cores ${opts.cores.join(',')}, N ${opts.ns.join(',')}, problems ${opts.problems.join(',')}, ` +
      `quantities ${opts.extensions.join(',')}, ≥ ${opts.warmups} warm-ups (≥ ${opts.minWarmupS} s, ≤ ${opts.maxWarmups}) + ≥ ${opts.repeats} runs${bp ? `; BackPACK via ${bp.how}` : ''}`,
  );
  console.log(`load average at start: ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);

  const runs: ProblemRun[] = [];
  const bpOptions = { ...cellRuns(opts), maxRssGB: opts.maxRssGB, stepTimeoutS: opts.cellTimeoutS };
  for (const problem of opts.problems) {
    for (const N of opts.ns) {
      const run: ProblemRun = { problem, N, ours: {}, backpack: {}, loadStart: os.loadavg()[0], loadEnd: 0, order: [] };
      for (const cores of opts.cores) {
        if (bp && comparable.length && opts.turns) {
          // Side by side: both processes at once, taking turns on the cores (bench/turns.ts).
          const turns = new Turns(['backpack', 'ours'], opts.extensions);
          const [b, ours] = await Promise.all([
            runBackpackBlock(bp, problem, N, cores, comparable, { ...bpOptions, turns }),
            runOurBlock(opts, backend, problem, N, cores, undefined, turns),
          ]);
          turns.close();
          run.backpack[cores] = b;
          run.ours[cores] = ours;
          run.order.push(`BackPACK ${cores} thread${cores > 1 ? 's' : ''} and ours ${cores} core${cores > 1 ? 's' : ''} side by side`);
          (run.turns ??= {})[cores] = Object.fromEntries(turns.ledger);
          if (b.error) console.log(`  BackPACK ${problem} N=${N} ${cores} thread(s): ${b.error}`);
          if (opts.profile) await profileMisses(opts, backend, ours, medians(b));
          continue;
        }
        // Back to back: BackPACK's cells of this (problem, N, cores), then ours.
        let backpackMs: Record<string, number> | undefined;
        if (bp && comparable.length) {
          const b: BackpackBlock = await runBackpackBlock(bp, problem, N, cores, comparable, bpOptions);
          run.backpack[cores] = b;
          run.order.push(`BackPACK ${cores} thread${cores > 1 ? 's' : ''}`);
          if (b.error) console.log(`  BackPACK ${problem} N=${N} ${cores} thread(s): ${b.error}`);
          backpackMs = medians(b);
        }
        run.ours[cores] = await runOurBlock(opts, backend, problem, N, cores, backpackMs);
        run.order.push(`ours ${cores} core${cores > 1 ? 's' : ''}`);
      }
      run.loadEnd = os.loadavg()[0];
      runs.push(run);
    }
  }
  const cellsS = (performance.now() - t0) / 1000;
  const loadAfterCells = os.loadavg();

  // Tables.
  const comp = opts.cores.map((cores) => ({ cores, ...comparisonTable(runs, cores, comparable) }));
  const details = detailsTable(runs, opts.cores, opts.extensions);
  for (const c of comp) {
    console.log(`\n${c.cores === 1 ? '1 core' : '2 cores'} (ms; ratio = ours / BackPACK):\n${c.console}\n${verdictLine(c.rs, c.gm, c.cores).replace(/\*\*/g, '')}`);
  }
  const misses = missesSection(comp, opts.profile);
  if (bp) console.log(`\ncells that miss a target:\n${misses}`);
  for (const line of turnsLine(runs)) console.log(line.slice(2));

  let scaling: string | null = null;
  if (opts.scaling === 'with') {
    try {
      scaling = await runScaling(opts, backend);
    } catch (e) {
      // Keep the tables: the scaling section then says what went wrong.
      scaling = `${SCALING_HEADING}\n\n- command: {{COMMAND}}\n\n**Failed**: ${(e as Error).message}\n`;
    }
  }
  const totalS = (performance.now() - t0) / 1000;
  const loadEnd = os.loadavg();

  const bpMeta = runs.flatMap((r) => Object.values(r.backpack)).find((b) => b?.meta)?.meta;
  const threadsNote = backend === 'native' ? '' : ` (${backend} is single-threaded: its 2-core cells are 2 workers × 1 only)`;
  const header = [
    '# backpack-ts benchmark results',
    '',
    `- command: \`${commandLine()}\``,
    `- date: ${started.toISOString()} (total ${totalS.toFixed(0)} s${scaling ? `: ${cellsS.toFixed(0)} s cells, ${(totalS - cellsS).toFixed(0)} s scaling` : ''}); code: ${version}`,
    `- machine: ${machine()}`,
    `- load average (1 / 5 / 15 min) at start: ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}; after the cells: ${loadAfterCells.map((x) => x.toFixed(2)).join(' / ')}${scaling ? `; end: ${loadEnd.map((x) => x.toFixed(2)).join(' / ')}` : ''} (this machine has ${os.cpus().length} cores; a load above the cores the bench uses means other work shared them)`,
    ...loadWarning(runs, [loadBefore[0], loadAfterCells[0], loadEnd[0]]),
    ...turnsLine(runs),
    `- ours: Node ${process.version}; ${tfjsVersions()}; backend **${backend}**${library ? ` — ${library}` : ''}${note ? ` (${note})` : ''}${threadsNote}; float32`,
    bp
      ? `- BackPACK: ${bpMeta ? `BackPACK ${bpMeta.backpack ?? '?'} on PyTorch ${bpMeta.torch ?? '?'} (BLAS: ${bpMeta.blas ?? '?'}; oneDNN ${bpMeta.mkldnn ? 'on' : 'off'}), Python ${bpMeta.python ?? '?'}` : 'no version line received'}; ${bp.how}; LD_PRELOAD=${bp.jemalloc} MALLOC_CONF=${MALLOC_CONF}; torch.set_num_threads(T) and OMP_NUM_THREADS=T with T = the table's cores; bench/backpack/time_backpack.py (same problems, PyTorch default init, standard-normal inputs)`
      : `- BackPACK: ${bpSkip || 'not timed in this run (add --compare-backpack)'}${comparable.length ? `; where shown, † = ${ANCHOR_SOURCE}` : ''}`,
    `- measured: wall time of one run of the library's run loop — 1 core: one in-process \`runBatch\` (forward + extended backward + merge + finalise) with 1 kernel thread; 2 cores: the faster of \`runJobOnPool\` on \`createPool('threads', 2)\` with 1 kernel thread per worker and shards of ⌈N/2⌉ (dispatch, shards, merge, finalise) and one in-process \`runBatch\` with 2 kernel threads. BackPACK: one forward + backward with the extension active. \`grad\` = plain gradient (extensions []; BackPACK: backward inside an empty \`backpack()\` context).`,
    `- hygiene: per cell ≥ ${opts.warmups} warm-up runs (more while they total < ${opts.minWarmupS} s, at most ${opts.maxWarmups}: the engine's JS is optimised by V8 only after some hundreds of runs), then ≥ ${opts.repeats} timed runs (more while they total < ${opts.minCellS} s, at most ${opts.maxRuns}; none beyond ${opts.repeats} once ${opts.maxCellS} s are spent), median; an event-loop turn before each of our runs (the native backend recycles the memory of zero-copy result views only after one); process CPU time (all threads) reported beside wall time; each (problem, N, cores) in its own process on each side, ${opts.turns && bp ? `each side's process runs beside the other's, and the two take turns on the cores in slices of ${TURN_MS} ms (bench/turns.ts; a side waits while the other is on an earlier quantity), so that both time a cell over the same stretch of a shared machine's drifting load: ${runs[0]?.order.join(' → ') ?? '—'}` : `run back to back: ${runs[0]?.order.join(' → ') ?? '—'}`}`,
    `- data: bench/problem.ts — PyTorch-like uniform(±1/√fan_in) weights (seeded), standard-normal inputs, labels uniform in [0, 10)`,
    `- limits: RSS watchdog --max-rss-gb ${opts.maxRssGB} (both sides); --cell-timeout-s ${opts.cellTimeoutS} per run; "cannot run" = decided from sizes before running (bench/limits.ts; BackPACK: its BatchGrad output alone above the limit)`,
    `- targets: ours / BackPACK ≤ ${CELL_TARGET.toFixed(1)} in every cell (misses bold, ✗), geometric mean ≤ ${GEOMEAN_TARGET} per table`,
    '',
  ];
  const body: string[] = [];
  for (const c of comp) {
    body.push(`## ${c.cores === 1 ? '1 core' : '2 cores'}: ours vs BackPACK (${c.cores === 1 ? '1 thread' : '2 threads'})`, '', 'Median ms per run.', '', c.markdown, '', verdictLine(c.rs, c.gm, c.cores), '');
  }
  if (comp.length) body.push('## Cells that miss a target', '', bp ? misses : 'No same-run BackPACK timings: nothing to check (run with --compare-backpack).', '');
  if (others.length) {
    body.push('## Other quantities (no BackPACK column)', '', 'GGNMP/HMP: products with V = 1 standard-normal vector per parameter. Median ms per run; 2 cores: (2w) / (2t) as above.', '');
    for (const cores of opts.cores) body.push(`### ${cores === 1 ? '1 core' : '2 cores'}`, '', oursOnlyGrid(runs, cores, others), '');
  }
  body.push(
    '## Details',
    '',
    'Every cell. "ours ms": the configuration shown in the tables; "CPU ms (sys)": median process CPU time of the same runs (every thread: on 2 cores it is up to twice the wall time; the system part is mostly page faults of fresh memory); "compute / reduce": the run\'s own split (shards vs merge + finalise); 2w / 2t: both 2-core variants (ms and CPU ms); "CPU ratio": ours / BackPACK in CPU time, which other work on the machine inflates less than wall time (but it also counts spinning threads); ⚠ = tensors leaked over the timed runs.',
    '',
    details.markdown,
    '',
    ...(details.notes.length ? [details.notes.map((n) => `- ${n}`).join('\n'), ''] : []),
    '## Processes',
    '',
    `Peak RSS per process (sampled from /proc every 20 ms by the bench; inside our children also the kernel's high-water mark VmHWM, reset per cell; BackPACK's own ru_maxrss; ours includes Node, tsx, the backend's caching allocator and, on 2 cores, both workers). Load average (1 min) per (problem, N), start → end: ${runs.map((r) => `${r.problem} N=${r.N} ${r.loadStart.toFixed(2)} → ${r.loadEnd.toFixed(2)}`).join('; ')}.`,
    '',
    processTable(runs, opts.cores),
    '',
  );
  const memorySection = sectionOf(existing, MEMORY_HEADING);
  const startupSection = sectionOf(existing, STARTUP_HEADING);
  const doc = [
    ...header,
    ...body,
    memorySection ?? `${MEMORY_HEADING}\n\nNot measured yet: \`npm run bench -- --memory\`.`,
    '',
    startupSection ?? `${STARTUP_HEADING}\n\nNot measured yet: \`npm run bench -- --startup\`.`,
    '',
    ...(scaling ? [scaling.replace('{{COMMAND}}', scalingCommand(opts, backend)).trim(), ''] : opts.scaling === 'skip' ? [sectionOf(existing, SCALING_HEADING) ?? '', ''] : []),
  ].join('\n');
  save(doc.replace(/\n{3,}/g, '\n\n'));
  console.log(`wrote ${path.relative(process.cwd(), outPath)} (${totalS.toFixed(0)} s)`);
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).message?.slice(0, 4000) ?? e}`);
  process.exit(1);
});
