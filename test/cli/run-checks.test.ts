/**
 * What `run` settles before computing, and how every failure is reported: an --out that is a file,
 * unwritable (/proc), or holds a special file where a result goes fails at once, before the
 * weights are even read; a directory the failed run created is removed again; commander's own
 * errors (bad choice, unknown option, missing option, no command) use the one
 * `error [CODE] Name: message` line and exit 2; header-level shape errors exit 3; a forward pass
 * that overflows float32 fails instead of writing NaN results.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/io/npy.ts';
import { encodeSafetensors } from '../../src/io/safetensors.ts';
import { runCli } from '../helpers/cli.ts';

let dir: string;
const file = (name: string) => path.join(dir, name);
const LINE = /^error \[E_[A-Z_]+\] [A-Za-z]+Error: .+\n$/;

const MODEL = { input_shape: [4], layers: [{ type: 'Linear', in_features: 4, out_features: 3 }], loss: { type: 'CrossEntropyLoss', reduction: 'mean' } };

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bp-run-checks-'));
  writeFileSync(file('model.json'), JSON.stringify(MODEL));
  writeFileSync(file('w.safetensors'), encodeSafetensors({ '0.weight': { dtype: 'float32', shape: [3, 4], data: new Float32Array(12).fill(0.1) }, '0.bias': { dtype: 'float32', shape: [3], data: new Float32Array(3) } }));
  writeFileSync(file('x.npy'), encodeNpy({ dtype: 'float32', shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => i / 16) }));
  writeFileSync(file('y.npy'), encodeNpy({ dtype: 'int64', shape: [4], data: BigInt64Array.from([0n, 1n, 2n, 0n]) }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (over: Record<string, string> = {}, extra: string[] = []) => {
  const opts = { '--model': file('model.json'), '--weights': file('w.safetensors'), '--inputs': file('x.npy'), '--targets': file('y.npy'), '--out': file('out'), '--workers': '0', ...over };
  return runCli(['run', ...Object.entries(opts).flat(), '--quiet', ...extra]);
};

async function fails(result: Promise<{ code: number; stderr: string }>, code: number, fragment: RegExp): Promise<void> {
  const r = await result;
  expect(r.stderr).toMatch(LINE);
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(fragment);
}

describe('--out is checked before anything is computed', () => {
  it('the control run succeeds', async () => {
    const r = await run({ '--out': file('ok') });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(file('ok')).sort()).toEqual(['results.safetensors', 'summary.json']);
  });

  it('an existing file: refused before the weights are read (a missing weights file is not reached)', async () => {
    writeFileSync(file('taken'), 'x');
    await fails(run({ '--out': file('taken'), '--weights': file('missing.safetensors') }), 2, /--out .*taken: .*taken exists and is not a directory/);
  });

  it('a path under a file', async () => {
    await fails(run({ '--out': path.join(file('taken'), 'sub') }), 2, /taken exists and is not a directory/);
  });

  it.skipIf(!existsSync('/proc/self'))('/proc paths fail at once instead of hanging', async () => {
    const t0 = performance.now();
    await fails(run({ '--out': '/proc/backpack-ts-test' }), 2, /--out \/proc\/backpack-ts-test: cannot create \/proc\/backpack-ts-test/);
    await fails(run({ '--out': '/proc/self' }), 2, /--out \/proc\/self: cannot write there/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it.skipIf(spawnSync('mkfifo', ['--version']).status !== 0)('a FIFO or a directory where a result goes', async () => {
    mkdirSync(file('fifo-out'));
    execFileSync('mkfifo', [path.join(file('fifo-out'), 'results.safetensors.partial')]);
    await fails(run({ '--out': file('fifo-out') }), 2, /results\.safetensors\.partial exists and is not a regular file/);
    mkdirSync(path.join(file('dir-out'), 'summary.json'), { recursive: true });
    await fails(run({ '--out': file('dir-out') }), 2, /summary\.json exists and is not a regular file/);
  });

  it('a run that fails after creating --out removes the directories it created', async () => {
    const out = path.join(file('fresh'), 'a', 'b');
    await fails(run({ '--out': out, '--weights': file('missing.safetensors') }), 3, /missing\.safetensors: file not found/);
    expect(existsSync(file('fresh'))).toBe(false);
  });
});

describe('commander errors in the one error format, exit 2', () => {
  it.each([
    ['a backend that is not a choice', ['--backend', 'foo'], /UsageError: option '--backend <name>' argument 'foo' is invalid\. Allowed choices are auto, native, cuda, wasm, cpu, tensorflow\./],
    ['an unknown option', ['--bogus'], /UsageError: unknown option '--bogus'/],
    ['an option without its value', ['--seed'], /UsageError: option '--seed <K>' argument missing/],
  ])('%s', async (_name, extra, fragment) => {
    await fails(run({}, extra), 2, fragment);
  });

  it('a missing required option, an unknown command, no command', async () => {
    await fails(runCli(['run', '--model', file('model.json')]), 2, /UsageError: required option '--weights <file>' not specified/);
    await fails(runCli(['bogus']), 2, /UsageError: unknown command 'bogus'/);
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage: backpack-ts/);
    expect(none.stderr.trim().split('\n').at(-1)).toBe('error [E_USAGE] UsageError: a command is needed; see the list above');
  });

  it('help and version still exit 0', async () => {
    expect((await runCli(['run', '--help'])).code).toBe(0);
  });
});

describe('numbers and sizes are parsed strictly', () => {
  it.each([
    ['--shard-size', '1e300', /--shard-size must be a positive integer, got '1e300'/],
    ['--shard-size', '4294967296', /--shard-size must be at most 2147483647/],
    ['--seed', '4294967296', /--seed must be at most 4294967295/],
    ['--mc-samples', '0x10', /--mc-samples must be a positive integer, got '0x10'/],
    ['--workers', '100000', /--workers must be at most 128/],
    ['--shard-timeout', '9999999999', /--shard-timeout must be at most 2147483647/],
    ['--max-memory', '0', /--max-memory must be at least 1 byte, got '0'/],
    ['--max-memory', 'lots', /--max-memory must be a size like 512M or 2G, got 'lots'/],
    ['--subsampling', ',', /--subsampling must list at least one index/],
  ])('%s %s', async (option, value, fragment) => {
    await fails(run({}, [option, value]), 2, fragment);
  });

  it('--mc-samples 10000000 is refused by the size estimate, at once', async () => {
    // 10^7 stacked MC factors of a [256] → [10] layer: ~30 GiB per sample.
    writeFileSync(file('wide.json'), JSON.stringify({ ...MODEL, input_shape: [256], layers: [{ type: 'Linear', in_features: 256, out_features: 10 }] }));
    writeFileSync(file('x256.npy'), encodeNpy({ dtype: 'float32', shape: [4, 256], data: new Float32Array(1024) }));
    const t0 = performance.now();
    const args = { '--model': file('wide.json'), '--inputs': file('x256.npy'), '--weights': file('missing.safetensors') };
    await fails(run(args, ['--mc-samples', '10000000', '--extensions', 'DiagGGNMC']), 2, /MemoryBudgetError: .* one sample needs for DiagGGNMC: layers\[0\] \(Linear\)/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a tiny --max-memory names the need', async () => {
    await fails(run({}, ['--max-memory', '1K']), 2, /MemoryBudgetError: --max-memory 1\.0 KiB is below the ~[\d.]+ KiB one sample needs for the gradient/);
  });
});

describe('bad inputs exit 3, from the headers', () => {
  it('inputs of shape () and targets of shape ()', async () => {
    writeFileSync(file('scalar.npy'), encodeNpy({ dtype: 'float32', shape: [], data: Float32Array.from([1]) }));
    await fails(run({ '--inputs': file('scalar.npy') }), 3, /ShapeError: .*scalar\.npy: shape \[\] does not match the model's input_shape \[4\]/);
    await fails(run({ '--targets': file('scalar.npy') }), 3, /ShapeError: .*scalar\.npy: a 0-d tensor holds no per-sample targets/);
  });

  it('no samples', async () => {
    writeFileSync(file('empty.npy'), encodeNpy({ dtype: 'float32', shape: [0, 4], data: new Float32Array(0) }));
    await fails(run({ '--inputs': file('empty.npy') }), 3, /ShapeError: .*empty\.npy: no samples/);
  });

  it('inputs and targets of different counts', async () => {
    writeFileSync(file('y3.npy'), encodeNpy({ dtype: 'int64', shape: [3], data: new BigInt64Array(3) }));
    await fails(run({ '--targets': file('y3.npy') }), 3, /ShapeError: inputs have 4 samples but targets have 3/);
  });

  it('a forward pass that overflows float32 fails (exit 3) and writes no results', async () => {
    writeFileSync(file('w-huge.safetensors'), encodeSafetensors({ '0.weight': { dtype: 'float32', shape: [3, 4], data: new Float32Array(12).fill(3e38) }, '0.bias': { dtype: 'float32', shape: [3], data: new Float32Array(3) } }));
    const out = file('nan-out');
    await fails(run({ '--weights': file('w-huge.safetensors'), '--out': out }, ['--extensions', 'BatchGrad']), 3, /NonFiniteError: the loss is (NaN|Infinity): float32 overflowed/);
    expect(existsSync(path.join(out, 'results.safetensors'))).toBe(false);
  });
});
