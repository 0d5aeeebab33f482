/**
 * The memory cell (`npm run bench -- --memory`): BatchGrad of a ~1M-parameter MLP on N = 2000
 * samples — ≈ 8.5 GB of float32 per-sample gradients, more than the machine should hold at once —
 * through the command line (`backpack-ts run`) on the native backend, in worker threads, with
 * `--max-memory 1G` and streaming to a results file in a temporary directory. Records the peak RSS
 * of the whole process tree (sampled from /proc every 20 ms) and the wall time; target: it
 * completes with peak RSS ≤ 3 GB. The temporary directory (inputs, spill files, results) is deleted
 * afterwards, whatever happened.
 *
 * The model: input 784 → Linear 1024 → ReLU → Linear 256 → ReLU → Linear 10, CrossEntropyLoss(mean):
 * 803,840 + 262,400 + 2,570 = 1,068,810 parameters; 2000 × 1,068,810 × 4 B = 8.55 GB of output.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, statfsSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fillNormal, makeRng, makeWeights } from './problem.ts';
import { procAvailable, sampleTree } from './proc.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
export const MEMORY_HEADING = '## Memory cell';

export interface MemoryCellOptions {
  N: number;
  /** --max-memory passed to the CLI. */
  maxMemory: string;
  workers: number;
  backend: string;
  /** Where the temporary directory goes (default os.tmpdir()). */
  dir?: string;
  /** Kill the tree above this (protects a shared machine); the cell is then reported as killed. */
  killAboveGB: number;
  timeoutS: number;
  targetGB: number;
}

const SPEC = {
  input_shape: [784],
  layers: [
    { type: 'Linear', in_features: 784, out_features: 1024 },
    { type: 'ReLU' },
    { type: 'Linear', in_features: 1024, out_features: 256 },
    { type: 'ReLU' },
    { type: 'Linear', in_features: 256, out_features: 10 },
  ],
  loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
};

const GB = (b: number) => `${(b / 1e9).toFixed(2)} GB`;

export async function runMemoryCell(o: MemoryCellOptions, commandLine: string): Promise<string> {
  const { parseModelSpecText } = await import('../src/nn/parse-spec.ts');
  const { writeSafetensorsFile, writeNpyFile } = await import('../src/io/tensor-file.ts');
  const spec = parseModelSpecText(JSON.stringify(SPEC), 'memory-cell model');
  const weights = makeWeights(spec, 0);
  const params = [...weights.values()].reduce((s, t) => s + t.data.length, 0);
  const outBytes = o.N * params * 4;
  const started = new Date();
  const load0 = os.loadavg();
  const base = o.dir ?? os.tmpdir();
  const lines: string[] = [
    MEMORY_HEADING,
    '',
    `- command: \`${commandLine}\``,
    `- date: ${started.toISOString()}; load average (1/5/15 min) at start: ${load0.map((x) => x.toFixed(2)).join(' / ')}`,
    `- job: BatchGrad of an MLP 784 → 1024 → ReLU → 256 → ReLU → 10 (CrossEntropyLoss), ${params.toLocaleString('en-US')} parameters, N = ${o.N}: per-sample gradients [N, θ] = ${GB(outBytes)} float32`,
  ];
  // Spill files and the results file both hold the rows at some point: about twice the output on disk.
  let free = Infinity;
  try {
    const s = statfsSync(base);
    free = s.bavail * s.bsize;
  } catch {
    // statfs unavailable: go ahead
  }
  if (free < 2.2 * outBytes) {
    lines.push('', `**Not run**: the temporary directory's file system (${base}) has ${GB(free)} free; the streamed results and spill files need about ${GB(2.2 * outBytes)}. Use --memory-dir DIR on a larger one.`, '');
    return lines.join('\n');
  }
  const dir = mkdtempSync(path.join(base, 'bench-memory-'));
  const outDir = path.join(dir, 'out');
  try {
    writeFileSync(path.join(dir, 'model.json'), `${JSON.stringify(SPEC, null, 2)}\n`);
    await writeSafetensorsFile(path.join(dir, 'weights.safetensors'), weights);
    const rng = makeRng(1);
    await writeNpyFile(path.join(dir, 'inputs.npy'), { dtype: 'float32', shape: [o.N, 784], data: fillNormal(new Float32Array(o.N * 784), rng) });
    const labels = new Int32Array(o.N);
    for (let i = 0; i < o.N; i++) labels[i] = Math.min(9, Math.floor(rng() * 10));
    await writeNpyFile(path.join(dir, 'targets.npy'), { dtype: 'int32', shape: [o.N], data: labels });

    const args = [
      path.join(ROOT, 'bin', 'backpack-ts.mjs'), 'run',
      '--model', path.join(dir, 'model.json'), '--weights', path.join(dir, 'weights.safetensors'),
      '--inputs', path.join(dir, 'inputs.npy'), '--targets', path.join(dir, 'targets.npy'),
      '--extensions', 'BatchGrad', '--out', outDir,
      '--backend', o.backend, '--workers', String(o.workers), '--pool', 'threads', '--threads-per-worker', '1',
      '--max-memory', o.maxMemory, '--stream', '--quiet',
    ];
    const shown = `backpack-ts run --model model.json --weights weights.safetensors --inputs inputs.npy --targets targets.npy --extensions BatchGrad --out out --backend ${o.backend} --workers ${o.workers} --pool threads --threads-per-worker 1 --max-memory ${o.maxMemory} --stream --quiet`;
    lines.push(`- run: \`${shown}\` in a temporary directory under ${base} (deleted afterwards); peak RSS = the largest sum of VmRSS over the CLI process and all its descendants, sampled from /proc every 20 ms${procAvailable ? '' : ' (**/proc is not readable here: no RSS recorded**)'}`);
    console.log(`memory cell: ${shown}`);
    const t0 = performance.now();
    let killed = '';
    let stderr = '';
    const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; peak: number; samples: number }>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      const sampler = procAvailable && child.pid
        ? sampleTree(child.pid, 20, o.killAboveGB * 2 ** 30, (rss) => {
            killed = `killed by the bench at ${GB(rss)} (above --memory-kill-gb ${o.killAboveGB} GiB, to protect the machine)`;
            child.kill('SIGKILL');
          })
        : null;
      const timer = setTimeout(() => {
        killed = `killed after --memory-timeout-s ${o.timeoutS} s`;
        child.kill('SIGKILL');
      }, o.timeoutS * 1000);
      child.stdout!.on('data', (d) => process.stdout.write(d));
      child.stderr!.on('data', (d) => {
        stderr = (stderr + String(d)).slice(-6000);
        process.stderr.write(d);
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        sampler?.stop();
        reject(e);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const samples = sampler?.samples() ?? 0;
        resolve({ code, signal, peak: sampler?.stop() ?? 0, samples });
      });
    });
    const wallS = (performance.now() - t0) / 1000;
    const resultsFile = path.join(outDir, 'results.safetensors');
    const size = existsSync(resultsFile) ? statSync(resultsFile).size : 0;
    let summary: { shards?: number; loss?: number; streamed?: boolean; shapes?: Record<string, number[]> } = {};
    try {
      summary = JSON.parse(readFileSync(path.join(outDir, 'summary.json'), 'utf8'));
    } catch {
      // no summary: the run did not complete
    }
    const completed = result.code === 0 && !killed;
    const within = result.peak > 0 && result.peak <= o.targetGB * 1e9;
    const errLine = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at ')).pop() ?? '';
    lines.push(
      '',
      '| outcome | wall s | peak RSS (process tree) | results file | shards | target (completes, peak RSS ≤ ' + `${o.targetGB} GB)` + ' |',
      '|---|---:|---:|---:|---:|---|',
      `| ${completed ? 'completed' : killed ? `**${killed}**` : `**failed** (${result.signal ?? `exit ${result.code}`})`} | ${wallS.toFixed(1)} | ${result.peak ? GB(result.peak) : '—'} | ${size ? GB(size) : '—'} | ${summary.shards ?? '—'} | ${completed && within ? '✓ met' : `✗ **not met**${completed ? ` (peak ${GB(result.peak)} > ${o.targetGB} GB)` : ''}`} |`,
      '',
      `- RSS samples: ${result.samples}; load average (1 min) at the end: ${os.loadavg()[0].toFixed(2)}; output deleted afterwards.`,
      ...(completed ? [`- loss ${summary.loss ?? '?'}; streamed: ${summary.streamed ?? '?'}; ${summary.shapes ? `${Object.keys(summary.shapes).length} result tensors` : ''}`] : []),
      ...(!completed && errLine ? [`- last line on stderr: \`${errLine.slice(0, 400).replace(/`/g, "'")}\``] : []),
      '',
    );
    console.log(`memory cell: ${completed ? 'completed' : killed || `failed (${result.signal ?? `exit ${result.code}`})`} in ${wallS.toFixed(1)} s, peak RSS of the tree ${GB(result.peak)}, results ${GB(size)}`);
    return lines.join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
