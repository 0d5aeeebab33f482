/**
 * Fuzz through the real binary: a few of the worst inputs run as `backpack-ts` child
 * processes with the default options (worker threads, the default memory budget) under
 * --max-old-space-size=256, and must end in a typed error line with no stack trace, within 30 s,
 * with the child's peak RSS (reported by peak-rss.mjs at exit) under 400 MiB — a 600 MB inputs
 * file whose row count is wrong must not be read at all.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../queue/helpers.ts';
import { npyRaw } from './cases/npy.ts';
import { FuzzFiles } from './harness.ts';
import { SOURCE_CLI } from '../helpers/source-cli.ts';

const PEAK_BOUND = 400 * 2 ** 20;
const TIME_BOUND_MS = 30_000;

let files: FuzzFiles;
let peakDir: string;
beforeAll(() => {
  files = new FuzzFiles('child');
  peakDir = mkdtempSync(path.join(tmpdir(), 'bp-fuzz-peak-'));
});
afterAll(() => {
  files.remove();
  rmSync(peakDir, { recursive: true, force: true });
});

/** `run` on the base job without --workers 0 (the default pool) and with the given overrides. */
const runArgs = (over: Record<string, string>) => files.run({ ...over }).filter((a, i, all) => a !== '--workers' && all[i - 1] !== '--workers');

function runChild(args: string[], name: string): { code: number | null; stderr: string; ms: number; peak: number } {
  const peakFile = path.join(peakDir, `${name.replace(/\W+/g, '-')}.txt`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--max-old-space-size=256', '--import', './test/fuzz/peak-rss.mjs', SOURCE_CLI, ...args], {
    cwd: REPO, encoding: 'utf8', timeout: TIME_BOUND_MS * 2, env: { ...process.env, BP_PEAK_FILE: peakFile },
  });
  const peak = existsSync(peakFile) ? Number(readFileSync(peakFile, 'utf8')) * 1024 : Infinity;
  return { code: r.status, stderr: r.stderr, ms: performance.now() - t0, peak };
}

/** A 600 MB .npy of zeros (a sparse file: nothing is written to disk) declaring 2^21 samples. */
function sparseInputs(): string {
  const N = 2 ** 21;
  const header = npyRaw({ dict: `{'descr': '<f4', 'fortran_order': False, 'shape': (${N}, 2, 6, 6), }`, data: new Uint8Array() });
  const p = files.path('big.npy');
  const fd = openSync(p, 'w');
  writeSync(fd, header);
  ftruncateSync(fd, header.length + N * 288);
  closeSync(fd);
  return p;
}

const CASES: [string, () => string[], RegExp][] = [
  ['inputs linked to /dev/zero', () => {
    symlinkSync('/dev/zero', files.path('zero.npy'));
    return runArgs({ '--inputs': files.path('zero.npy') });
  }, /E_TENSOR_FILE\] TensorFileError: .*a character device, not a regular file/],
  ['a 600 MB inputs file with the wrong row count is not read', () => runArgs({ '--inputs': sparseInputs() }), /E_SHAPE\] ShapeError: inputs have 2097152 samples but targets have 6/],
  ['inputs declaring a petabyte', () => runArgs({ '--inputs': files.write('pb.npy', npyRaw({ dict: "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000000, 2, 6, 6), }" })) }), /truncated: header says/],
  ['a ZeroPad2d of 1e9', () => runArgs({ '--model': files.write('pad.json', JSON.stringify({ input_shape: [2, 6, 6], layers: [{ type: 'ZeroPad2d', padding: 1e9 }, { type: 'AdaptiveAvgPool2d', output_size: 1 }, { type: 'Flatten' }, { type: 'Linear', in_features: 2, out_features: 4 }], loss: { type: 'CrossEntropyLoss', reduction: 'mean' } })) }), /E_MEMORY_BUDGET\] MemoryBudgetError: .*layers\[[01]\] \((ZeroPad2d|AdaptiveAvgPool2d)\)/],
  ['an AdaptiveAvgPool2d to 1e5', () => runArgs({ '--model': files.write('ada.json', JSON.stringify({ input_shape: [2, 6, 6], layers: [{ type: 'AdaptiveAvgPool2d', output_size: 100000 }, { type: 'AdaptiveAvgPool2d', output_size: 1 }, { type: 'Flatten' }, { type: 'Linear', in_features: 2, out_features: 4 }], loss: { type: 'CrossEntropyLoss', reduction: 'mean' } })) }), /E_MEMORY_BUDGET\] MemoryBudgetError: .*AdaptiveAvgPool2d/],
  ['--mc-samples 10000000', () => runArgs({ '--mc-samples': '10000000', '--extensions': 'DiagGGNMC,KFAC' }), /E_MEMORY_BUDGET\] MemoryBudgetError/],
  ['a 20,000-node graph', () => {
    const nodes = Array.from({ length: 20_000 }, (_, i) => ({ name: `n${i}`, layer: { type: 'Identity' }, inputs: [i ? `n${i - 1}` : 'input'] }));
    return runArgs({ '--model': files.write('deep.json', JSON.stringify({ input_shape: [2, 6, 6], graph: { nodes, output: 'n19999' }, loss: { type: 'MSELoss', reduction: 'mean' } })) });
  }, /E_MODEL_SPEC\] ModelSpecError: .*graph\.nodes: Too big/],
  ['a model that is a FIFO', () => {
    execFileSync('mkfifo', [files.path('fifo.json')]);
    return runArgs({ '--model': files.path('fifo.json') });
  }, /E_MODEL_SPEC\] ModelSpecError: .*a FIFO, not a regular file/],
  ['--out under /proc', () => runArgs({ '--out': '/proc/bp-fuzz-child' }), /E_USAGE\] UsageError: --out \/proc\/bp-fuzz-child: cannot create/],
  ['--backend foo', () => runArgs({ '--backend': 'foo' }), /E_USAGE\] UsageError: option '--backend <name>' argument 'foo' is invalid/],
];

describe('fuzz through the binary, in child processes', () => {
  it.each(CASES)('%s', (name, args, error) => {
    const r = runChild(args(), name);
    const lines = r.stderr.trimEnd().split('\n');
    const context = `${name}: exit ${r.code}\n${r.stderr}`;
    expect(r.code, context).toBeGreaterThanOrEqual(2);
    expect(r.code, context).toBeLessThanOrEqual(5);
    expect(lines.at(-1), context).toMatch(/^error \[E_[A-Z_]+\] [A-Za-z]+Error: \S/);
    expect(lines.at(-1), context).toMatch(error);
    expect(r.stderr, context).not.toMatch(/^\s+at /m);
    expect(r.ms, `${name}: ${r.ms.toFixed(0)} ms`).toBeLessThan(TIME_BOUND_MS);
    expect(r.peak, `${name}: peak RSS ${(r.peak / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(PEAK_BOUND);
  }, TIME_BOUND_MS * 3);
});
