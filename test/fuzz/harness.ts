/**
 * The fuzz suite's harness: a small valid job (model, weights, inputs, targets) that each case
 * breaks in one way, the real CLI entry run in-process (src/cli/main.ts, as the binary runs it),
 * and the one assertion every case must pass: a typed error — exit code 2–5, the
 * `error [CODE] Name: message` line last on stderr, no stack trace, no results written — within a
 * time bound and a memory bound. Memory is the process's peak RSS during the case: Linux resets
 * the high-water mark (VmHWM) when 5 is written to /proc/self/clear_refs; elsewhere the bound is
 * checked on RSS sampled every few milliseconds.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { encodeNpy } from '../../src/io/npy.ts';
import { encodeSafetensors } from '../../src/io/safetensors.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { describeParameters } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { runCli } from '../helpers/cli.ts';

/** Wall time one case may take, in-process (the first case also starts the wasm backend). */
export const TIME_BOUND_MS = 15_000;
/** Growth of the process's peak RSS one case may cause. */
export const MEMORY_BOUND_BYTES = 384 * 2 ** 20;

/** The job every case breaks: a small CNN (conv, pool, flatten, linear) with a BatchNorm. */
export const BASE_MODEL = {
  input_shape: [2, 6, 6],
  layers: [
    { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 3, padding: 1 },
    { type: 'BatchNorm2d', num_features: 3 },
    { type: 'ReLU' },
    { type: 'MaxPool2d', kernel_size: 2, stride: 2 },
    { type: 'Flatten' },
    { type: 'Linear', in_features: 27, out_features: 4 },
  ],
  loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
};
export const N = 6;

export function baseWeights(): Map<string, HostTensor> {
  const { params, buffers } = describeParameters(parseModelSpec(BASE_MODEL));
  const weights = new Map<string, HostTensor>();
  let k = 0;
  for (const [name, shape] of [...Object.entries(params), ...Object.entries(buffers)]) {
    const n = shape.reduce((a, d) => a * d, 1);
    // Deterministic small values; variances positive.
    weights.set(name, { dtype: 'float32', shape, data: Float32Array.from({ length: n }, () => (name.endsWith('running_var') ? 1 : Math.sin(++k) * 0.3)) });
  }
  return weights;
}

export const baseInputs = (): HostTensor => ({ dtype: 'float32', shape: [N, 2, 6, 6], data: Float32Array.from({ length: N * 72 }, (_, i) => Math.cos(i) * 0.5) });
export const baseTargets = (): HostTensor => ({ dtype: 'int64', shape: [N], data: BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 4)) });

/** A case's scratch directory with the valid job written into it. */
export class FuzzFiles {
  readonly dir: string;
  private count = 0;

  constructor(label: string) {
    this.dir = mkdtempSync(path.join(tmpdir(), `bp-fuzz-${label}-`));
    this.write('model.json', JSON.stringify(BASE_MODEL));
    this.write('weights.safetensors', encodeSafetensors(baseWeights()));
    this.write('inputs.npy', encodeNpy(baseInputs()));
    this.write('targets.npy', encodeNpy(baseTargets()));
  }

  path(name: string): string {
    return path.join(this.dir, name);
  }

  /** Writes a file (bytes or text) and returns its path. */
  write(name: string, data: Uint8Array | string): string {
    writeFileSync(this.path(name), data);
    return this.path(name);
  }

  /** A fresh name with the given extension, for one case's file. */
  fresh(ext: string): string {
    return `case-${++this.count}${ext}`;
  }

  /** `run` on the valid job with some options replaced (in this process, no worker pool). */
  run(over: Record<string, string> = {}, extra: string[] = []): string[] {
    const opts: Record<string, string> = {
      '--model': this.path('model.json'), '--weights': this.path('weights.safetensors'), '--inputs': this.path('inputs.npy'),
      '--targets': this.path('targets.npy'), '--out': this.path(`out-${++this.count}`), '--workers': '0', '--extensions': 'BatchGrad,DiagGGNExact',
      ...over,
    };
    return ['run', ...Object.entries(opts).flat(), '--quiet', ...extra];
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface FuzzCase {
  name: string;
  /** Writes what the case needs and returns the CLI arguments. */
  args(f: FuzzFiles): string[] | Promise<string[]>;
  /** The exit code, if the case is specific about it (otherwise any of 2–5). */
  code?: number;
  /** What the error line must say. */
  error?: RegExp;
}

export interface Outcome {
  code: number;
  stderr: string;
  ms: number;
  /** Growth of the peak RSS during the case, bytes. */
  peakGrowth: number;
  /** The --out directory the case named, if any. */
  out?: string;
}

const HWM = '/proc/self/status';
const CLEAR_REFS = '/proc/self/clear_refs';

function peakRss(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(HWM, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null; // not Linux: sampling takes over
  }
}

function resetPeak(): boolean {
  try {
    writeFileSync(CLEAR_REFS, '5');
    return true;
  } catch {
    return false; // not permitted or not Linux: sampling takes over
  }
}

export async function runCase(f: FuzzFiles, c: FuzzCase): Promise<Outcome> {
  const args = await c.args(f);
  const before = process.memoryUsage().rss;
  const exact = resetPeak() && peakRss() !== null;
  let sampled = before;
  const timer = exact ? null : setInterval(() => (sampled = Math.max(sampled, process.memoryUsage().rss)), 5);
  const t0 = performance.now();
  const r = await runCli(args);
  const ms = performance.now() - t0;
  if (timer) clearInterval(timer);
  const peak = exact ? peakRss()! : Math.max(sampled, process.memoryUsage().rss);
  const outAt = args.indexOf('--out');
  return { code: r.code, stderr: r.stderr, ms, peakGrowth: peak - before, out: outAt >= 0 ? args[outAt + 1] : undefined };
}

/** The contract of every fuzz case. */
export function expectTypedFailure(o: Outcome, c: FuzzCase): void {
  const lines = o.stderr.trimEnd().split('\n');
  const last = lines[lines.length - 1];
  const context = `${c.name}: exit ${o.code}, stderr:\n${o.stderr}`;
  expect(o.code, context).toBeGreaterThanOrEqual(2);
  expect(o.code, context).toBeLessThanOrEqual(5);
  if (c.code !== undefined) expect(o.code, context).toBe(c.code);
  expect(last, context).toMatch(/^error \[E_[A-Z_]+\] [A-Za-z]+Error: \S.*$/);
  expect(lines.filter((l) => l.startsWith('error [')), context).toHaveLength(1);
  expect(o.stderr, context).not.toMatch(/^\s+at /m); // no stack frames
  if (c.error) expect(last, context).toMatch(c.error);
  expect(o.ms, `${c.name}: took ${o.ms.toFixed(0)} ms`).toBeLessThan(TIME_BOUND_MS);
  expect(o.peakGrowth, `${c.name}: peak RSS grew ${(o.peakGrowth / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(MEMORY_BOUND_BYTES);
  const results = o.out ? path.join(o.out, 'results.safetensors') : '';
  if (o.out) expect(existsSync(results) && statSync(results).isFile(), `${c.name}: wrote results`).toBe(false);
}
