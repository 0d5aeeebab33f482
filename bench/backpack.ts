/**
 * BackPACK's side of `npm run bench -- --compare-backpack`: finds a python that imports BackPACK,
 * and times one (problem, N, threads) with bench/backpack/time_backpack.py in its own process
 * (torch.set_num_threads(T) and OMP_NUM_THREADS=T; jemalloc with decay off, as
 * ../shared/backpack-reference/README.md prescribes: glibc malloc returns BackPACK's large blocks
 * to the kernel after every step and the timings then measure page faults).
 *
 * The python is $BACKPACK_PYTHON with $BACKPACK_PYTHONPATH; else `python3` with
 * PYTHONPATH=/opt/backpack-ref:/opt/backpack-ref/site if `import backpack` works there. Its RSS is
 * watched from /proc with the same --max-rss-gb as ours: above it the process is killed, the cell
 * reported as such, and a fresh process continues with the remaining quantities.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onLines } from './lines.ts';
import { procAvailable, sampleTree } from './proc.ts';
import { turnLines, type Turns } from './turns.ts';
import type { BackpackBlock, BackpackCell, BackpackMeta, CellRuns, Cores } from './types.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(HERE, 'backpack', 'time_backpack.py');
const DEFAULT_PYTHONPATH = '/opt/backpack-ref:/opt/backpack-ref/site';
const JEMALLOC_CANDIDATES = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2', '/usr/lib64/libjemalloc.so.2', '/usr/local/lib/libjemalloc.so.2', '/usr/lib/libjemalloc.so.2'];
export const MALLOC_CONF = 'dirty_decay_ms:-1,muzzy_decay_ms:-1';

export interface BackpackPython {
  python: string;
  pythonPath: string;
  jemalloc: string;
  /** How it was found, for the report. */
  how: string;
}

/** The python to time BackPACK with, or why there is none (one line). */
export function findBackpack(): BackpackPython | { skip: string } {
  const candidates: { python: string; pythonPath: string; how: string }[] = [];
  if (process.env.BACKPACK_PYTHON) {
    candidates.push({ python: process.env.BACKPACK_PYTHON, pythonPath: process.env.BACKPACK_PYTHONPATH ?? '', how: '$BACKPACK_PYTHON' + (process.env.BACKPACK_PYTHONPATH ? ' with $BACKPACK_PYTHONPATH' : '') });
  }
  candidates.push({ python: 'python3', pythonPath: DEFAULT_PYTHONPATH, how: `python3 with PYTHONPATH=${DEFAULT_PYTHONPATH}` });
  const tried: string[] = [];
  for (const c of candidates) {
    const r = spawnSync(c.python, ['-c', 'import torch, backpack'], { env: { ...process.env, PYTHONPATH: c.pythonPath }, encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) {
      const jemalloc = process.env.BACKPACK_JEMALLOC ?? JEMALLOC_CANDIDATES.find((f) => existsSync(f));
      if (!jemalloc || !existsSync(jemalloc)) {
        return { skip: `BackPACK comparison skipped: ${c.how} imports BackPACK, but libjemalloc.so.2 is missing (apt-get install libjemalloc2, or set $BACKPACK_JEMALLOC); without it BackPACK's timings are page faults, not a fair comparison` };
      }
      return { ...c, jemalloc };
    }
    const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop() ?? `exit ${r.status}`;
    tried.push(`${c.how}: ${why}`);
  }
  return { skip: `BackPACK comparison skipped: no python imports BackPACK (${tried.join('; ')})` };
}

export interface BackpackRunOptions extends CellRuns {
  maxRssGB: number;
  /** Seconds without progress (one step) before the process counts as hung. */
  stepTimeoutS: number;
  /** Take turns on the cores with our side, which runs beside (bench/turns.ts); side name 'backpack'. */
  turns?: Turns;
}

interface Outcome {
  meta?: BackpackMeta;
  cells: BackpackCell[];
  peakBytes: number;
  killedFor?: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
}

function runOnce(bp: BackpackPython, problem: string, N: number, threads: Cores, quantities: string[], o: BackpackRunOptions): Promise<Outcome> {
  const args = [
    SCRIPT, '--problems', problem, '--n', String(N), '--quantities', quantities.join(','), '--threads', String(threads),
    '--warmup', String(o.warmups), '--min-warmup-s', String(o.minWarmupS), '--max-warmups', String(o.maxWarmups), '--repeats', String(o.repeats), '--min-cell-s', String(o.minCellS), '--max-cell-s', String(o.maxCellS), '--max-runs', String(o.maxRuns),
    // The output alone above the RSS budget: decided before allocating it (the watchdog would kill it later).
    '--max-output-gb', String((o.maxRssGB * 2 ** 30) / 1e9), '--ticks',
    ...(o.turns ? ['--turns'] : []),
  ];
  const env = {
    ...process.env,
    PYTHONPATH: bp.pythonPath,
    OMP_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
    LD_PRELOAD: bp.jemalloc,
    MALLOC_CONF,
    PYTHONWARNINGS: 'ignore',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(bp.python, args, { env, stdio: [o.turns ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const turnLine = o.turns ? turnLines(o.turns, 'backpack', child) : () => false;
    const out: Outcome = { cells: [], peakBytes: 0, code: null, signal: null, stderrTail: '' };
    const kill = (why: string) => {
      if (out.killedFor) return;
      out.killedFor = why;
      child.kill('SIGKILL');
    };
    const limit = o.maxRssGB * 2 ** 30;
    const sampler = procAvailable && child.pid ? sampleTree(child.pid, 20, limit, (rss) => kill(`killed by the bench's RSS watchdog: ${(rss / 2 ** 30).toFixed(1)} GiB > --max-rss-gb ${o.maxRssGB}`)) : null;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => kill(`no progress within --cell-timeout-s ${o.stepTimeoutS} s (one step); killed`), o.stepTimeoutS * 1000);
    };
    arm();
    onLines(child.stdout!, (line) => {
      if (!line.trim() || turnLine(line)) return;
      let x: Record<string, unknown>;
      try {
        x = JSON.parse(line);
      } catch {
        process.stdout.write(`${line}\n`);
        return;
      }
      arm();
      if (x.meta) out.meta = x.meta as BackpackMeta;
      else if (x.tick) return;
      else if (x.quantity) {
        const c: BackpackCell = {
          quantity: String(x.quantity),
          ...(x.error ? { error: String(x.error) } : { medianMs: Number(x.median_ms), runs: Number(x.runs), cpuMs: Number(x.cpu_ms), peakRssMB: Number(x.peak_rss_mb) }),
        };
        out.cells.push(c);
        process.stderr.write(
          `  BackPACK ${threads} thread${threads > 1 ? 's' : ''} ${problem} N=${N} ${c.quantity.padEnd(18)} ${c.error ? `not run: ${c.error}` : `${c.medianMs!.toFixed(1)} ms (CPU ${c.cpuMs!.toFixed(0)} ms, ${c.runs} runs)  peak RSS ${c.peakRssMB!.toFixed(0)} MB`}\n`,
        );
      }
    });
    child.stderr!.on('data', (d) => {
      out.stderrTail = (out.stderrTail + String(d)).slice(-4000);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      o.turns?.exited('backpack');
      sampler?.stop();
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      o.turns?.exited('backpack');
      out.peakBytes = sampler?.stop() ?? 0;
      out.code = code;
      out.signal = signal;
      resolve(out);
    });
  });
}

/** BackPACK on one (problem, N) with `threads` threads: every quantity, a fresh process after a killed one. */
export async function runBackpackBlock(bp: BackpackPython, problem: string, N: number, threads: Cores, quantities: string[], o: BackpackRunOptions): Promise<BackpackBlock> {
  const t0 = performance.now();
  const block: BackpackBlock = { problem, N, threads, cells: [], peakRssMB: 0, processes: 0, wallS: 0 };
  let remaining = [...quantities];
  while (remaining.length) {
    block.processes++;
    let r: Outcome;
    try {
      r = await runOnce(bp, problem, N, threads, remaining, o);
    } catch (e) {
      block.error = `could not start ${bp.python}: ${(e as Error).message}`;
      break;
    }
    block.meta ??= r.meta;
    block.cells.push(...r.cells);
    block.peakRssMB = Math.max(block.peakRssMB, r.peakBytes / 2 ** 20, ...r.cells.map((c) => c.peakRssMB ?? 0));
    remaining = remaining.filter((q) => !r.cells.some((c) => c.quantity === q));
    if (!remaining.length) break;
    if (r.code === 0 && !r.killedFor) {
      block.error = `time_backpack.py ended without timing ${remaining.join(', ')}`;
      break;
    }
    const last = r.stderrTail.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
    const why = r.killedFor ?? `python died (${r.signal ?? `exit ${r.code}`})${last ? `: ${last.slice(0, 300)}` : ''}`;
    if (!r.meta) {
      block.error = why;
      break;
    }
    // Died inside the next cell: that one is reported as failed, a fresh process does the rest.
    const q = remaining.shift()!;
    block.cells.push({ quantity: q, error: why });
    process.stderr.write(`  BackPACK ${threads} thread${threads > 1 ? 's' : ''} ${problem} N=${N} ${q.padEnd(18)} FAILED: ${why}\n`);
  }
  block.wallS = (performance.now() - t0) / 1000;
  return block;
}
