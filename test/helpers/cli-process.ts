/**
 * The CLI as a separate process (as a user runs it), for what an in-process runCli cannot show:
 * resident memory of the whole process tree (/proc), signals and kills. Linux only (/proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNpy } from '../../src/io/npy.ts';
import { encodeSafetensors } from '../../src/io/safetensors.ts';
import { f32, mulberry32, randn } from './oracle.ts';
import { SOURCE_CLI } from './source-cli.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = SOURCE_CLI;

export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function spawnCli(args: string[]): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  return { child, done };
}

/** pid and every descendant, from /proc/<pid>/stat's ppid field. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null; // exited meanwhile
  }
}

/**
 * Samples the tree's memory every `everyMs` until stop(): the largest polled sum of VmRSS, and the
 * sum over all processes seen of their own peak (VmHWM: the kernel's high-water mark, so no spike
 * is missed; summing peaks that did not coincide makes it an upper bound of the true peak).
 */
export function watchMemory(root: number, everyMs = 50): { stop: () => { polledPeakBytes: number; hwmSumBytes: number; processes: number } } {
  const hwm = new Map<number, number>();
  let polledPeak = 0;
  const sample = () => {
    let sum = 0;
    for (const pid of processTree(root)) {
      sum += statusKiB(pid, 'VmRSS') ?? 0;
      const h = statusKiB(pid, 'VmHWM');
      if (h !== null) hwm.set(pid, Math.max(hwm.get(pid) ?? 0, h));
    }
    polledPeak = Math.max(polledPeak, sum);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return { polledPeakBytes: polledPeak * 1024, hwmSumBytes: [...hwm.values()].reduce((a, b) => a + b, 0) * 1024, processes: hwm.size };
    },
  };
}

/** A 784-1024-256-10 ReLU MLP (1,068,810 parameters: 4.28 MB of BatchGrad per sample) and N samples. */
export function writeMlpJob(dir: string, N: number): { model: string; weights: string; inputs: string; targets: string } {
  const spec = {
    input_shape: [784],
    layers: [
      { type: 'Linear', in_features: 784, out_features: 1024 }, { type: 'ReLU' },
      { type: 'Linear', in_features: 1024, out_features: 256 }, { type: 'ReLU' },
      { type: 'Linear', in_features: 256, out_features: 10 },
    ],
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
  };
  const rng = mulberry32(5);
  const weights = new Map([
    ['0.weight', f32([1024, 784], randn(rng, 1024 * 784, 0.03))], ['0.bias', f32([1024], randn(rng, 1024, 0.03))],
    ['2.weight', f32([256, 1024], randn(rng, 256 * 1024, 0.03))], ['2.bias', f32([256], randn(rng, 256, 0.03))],
    ['4.weight', f32([10, 256], randn(rng, 2560, 0.06))], ['4.bias', f32([10], randn(rng, 10, 0.06))],
  ]);
  const files = { model: path.join(dir, 'model.json'), weights: path.join(dir, 'weights.safetensors'), inputs: path.join(dir, 'inputs.npy'), targets: path.join(dir, 'targets.npy') };
  writeFileSync(files.model, JSON.stringify(spec));
  writeFileSync(files.weights, encodeSafetensors(weights));
  writeFileSync(files.inputs, encodeNpy(f32([N, 784], randn(rng, N * 784))));
  writeFileSync(files.targets, encodeNpy({ dtype: 'int32', shape: [N], data: Int32Array.from({ length: N }, (_, i) => i % 10) }));
  return files;
}

/** Where one tensor's data lies in an open .safetensors file, from its header. */
function locate(fd: number, file: string, key: string): { shape: number[]; start: number; end: number } {
  const len = Buffer.alloc(8);
  readSync(fd, len, 0, 8, 0);
  const headerLen = Number(len.readBigUInt64LE(0));
  const header = Buffer.alloc(headerLen);
  readSync(fd, header, 0, headerLen, 8);
  const t = (JSON.parse(header.toString('utf8')) as Record<string, { shape: number[]; data_offsets: [number, number] }>)[key];
  if (!t) throw new Error(`${file}: no tensor '${key}'`);
  return { shape: t.shape, start: 8 + headerLen + t.data_offsets[0], end: 8 + headerLen + t.data_offsets[1] };
}

function readF32(fd: number, count: number, position: number): Float32Array {
  const out = new Float32Array(count);
  readSync(fd, Buffer.from(out.buffer), 0, out.byteLength, position);
  return out;
}

/** Rows of one F32 tensor of a .safetensors file, read without loading the file. */
export function readSafetensorsRows(file: string, key: string, rows: number[]): Float32Array[] {
  const fd = openSync(file, 'r');
  try {
    const t = locate(fd, file, key);
    const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
    return rows.map((r) => readF32(fd, width, t.start + r * width * 4));
  } finally {
    closeSync(fd);
  }
}

/** One whole (small) F32 tensor of a .safetensors file, flattened. */
export function readSafetensorsTensor(file: string, key: string): Float32Array {
  const fd = openSync(file, 'r');
  try {
    const t = locate(fd, file, key);
    return readF32(fd, (t.end - t.start) / 4, t.start);
  } finally {
    closeSync(fd);
  }
}
