/**
 * Start-up cost of the compiled package, as process CPU time (user + system, every thread; wall
 * time on a busy machine says little): `backpack-ts --help`, one worker thread ready (its module
 * loaded and its backend initialised: bench/startup/thread-ready.mjs) and a 12-sample `run` of the
 * bundled MLP (BatchGrad + Variance, default workers). Median of --repeats runs each.
 * Targets (issue 14): --help ≤ 0.3 s, a thread ready ≤ 0.2 s, the 12-sample run ≤ 1 s.
 *
 *   node --import tsx bench/startup.ts [--repeats 5] [--backend auto]   prints the section
 *   npm run bench -- --startup                                            writes it into bench/RESULTS.md
 *
 * It measures dist/ (what `bin/backpack-ts.mjs` runs), so it rebuilds dist/ first (incremental tsc).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'backpack-ts.mjs');
export const STARTUP_HEADING = '## Start-up (process CPU time)';

interface Cpu {
  user: number;
  system: number;
}

const total = (c: Cpu) => c.user + c.system;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** CPU time of one `node ARGS` process, from the cpu-at-exit.mjs preload (it counts all threads). */
function cpuOfNode(args: string[], dir: string): Cpu {
  const file = path.join(dir, `cpu-${process.hrtime.bigint()}.json`);
  const r = spawnSync(process.execPath, ['--import', path.join(ROOT, 'bench/startup/cpu-at-exit.mjs'), ...args], {
    cwd: ROOT, env: { ...process.env, BACKPACK_CPU_FILE: file }, encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(readFileSync(file, 'utf8')) as Cpu;
}

function threadReady(backend: string): Cpu & { backend: string } {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'bench/startup/thread-ready.mjs'), backend], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out) as Cpu & { backend: string };
}

/** Model, weights and 12 samples of the bundled MLP, written by the compiled package itself. */
function writeJob(dir: string): string[] {
  const script = `
    const { initWeights, blobs } = await import('./dist/src/data/synthetic.js');
    const { writeNpyFile, writeSafetensorsFile } = await import('./dist/src/io/tensor-file.js');
    const { readModelSpec } = await import('./dist/src/nn/parse-spec.js');
    const spec = await readModelSpec('examples/mlp/model.json');
    await writeSafetensorsFile(process.env.D + '/w.safetensors', initWeights(spec, 0));
    const { inputs, targets } = blobs(spec, 12, 10);
    await writeNpyFile(process.env.D + '/x.npy', inputs);
    await writeNpyFile(process.env.D + '/y.npy', targets);`;
  execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, D: dir } });
  return ['--model', 'examples/mlp/model.json', '--weights', path.join(dir, 'w.safetensors'), '--inputs', path.join(dir, 'x.npy'), '--targets', path.join(dir, 'y.npy'), '--extensions', 'BatchGrad,Variance', '--quiet'];
}

export interface StartupOptions {
  repeats: number;
  backend: string;
}

/** The markdown section (heading included). */
export function measureStartup(opts: StartupOptions): string {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bp-startup-'));
  try {
    const runArgs = writeJob(dir);
    const help: number[] = [];
    const thread: number[] = [];
    const run: number[] = [];
    let threadBackend = '';
    let runSummary = { workers: 0, shards: 0, backend: '' };
    for (let i = 0; i < opts.repeats; i++) {
      help.push(total(cpuOfNode([BIN, '--help'], dir)));
      const t = threadReady(opts.backend);
      thread.push(total(t));
      threadBackend = t.backend;
      const out = path.join(dir, `out-${i}`);
      run.push(total(cpuOfNode([BIN, 'run', ...runArgs, '--backend', opts.backend, '--out', out], dir)));
      runSummary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    }
    const row = (what: string, xs: number[], target: number) =>
      `| ${what} | ${median(xs).toFixed(2)} s | ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)} s | ≤ ${target} s | ${median(xs) <= target ? 'met' : '**missed**'} |`;
    return [
      STARTUP_HEADING,
      '',
      `The compiled package (dist/, as \`bin/backpack-ts.mjs\` runs it), process CPU time (user + system, all threads), median of ${opts.repeats} (range beside it). Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, 1-min load average ${os.loadavg()[0].toFixed(2)} at the end; Node ${process.version}. Command: \`node --import tsx bench/startup.ts --repeats ${opts.repeats} --backend ${opts.backend}\`.`,
      '',
      '| what | CPU time | range | target | |',
      '|---|---|---|---|---|',
      row('`backpack-ts --help`', help, 0.3),
      row(`one worker thread ready (module loaded, backend \`${threadBackend}\` initialised)`, thread, 0.2),
      row(`\`backpack-ts run\`, 12 samples of examples/mlp, BatchGrad + Variance (backend \`${runSummary.backend}\`, ${runSummary.workers} worker threads, ${runSummary.shards} shards)`, run, 1),
      '',
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (flag: string, dflt: string) => {
    const i = process.argv.indexOf(flag);
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
  };
  const repeats = Number(arg('--repeats', '5'));
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a positive integer`);
  process.stdout.write(`${measureStartup({ repeats, backend: arg('--backend', 'auto') })}\n`);
}
