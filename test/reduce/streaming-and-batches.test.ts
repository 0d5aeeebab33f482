/**
 * Memory and streaming: per-sample outputs streamed to the results file equal the in-memory
 * result byte for byte; --max-memory micro-shards, --batch-size per-batch results and
 * --accumulate give what the corresponding plain runs give.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/io/npy.ts';
import { readTensorFile, readTensorMap } from '../../src/io/tensor-file.ts';
import { runCli } from '../helpers/cli.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { FIXTURE_ROOT } from '../helpers/fixtures.ts';

const CASE = path.join(FIXTURE_ROOT, 'cnn_relu_maxpool_ce_sum');
const f = (name: string) => path.join(CASE, name);
const base = ['run', '--model', f('model.json'), '--weights', f('weights.safetensors'), '--inputs', f('inputs.npy'), '--targets', f('targets.npy'), '--quiet'];
const out = () => mkdtempSync(path.join(tmpdir(), 'bp-stream-'));
const results = (dir: string) => readFileSync(path.join(dir, 'results.safetensors'));

async function ok(args: string[]): Promise<void> {
  const r = await runCli(args);
  expect(r.code, r.stderr).toBe(0);
}

describe('streaming per-sample outputs', () => {
  it('writes the same bytes as the in-memory path, with subsampling and sqrt factors', async () => {
    const exts = ['--extensions', 'BatchGrad,BatchL2Grad,SqrtGGNExact,BatchDiagHessian,Variance', '--shard-size', '3', '--subsampling', '6,1,6,0'];
    const a = out();
    const b = out();
    await ok([...base, ...exts, '--out', a, '--workers', '2', '--stream']);
    await ok([...base, ...exts, '--out', b, '--workers', '0']);
    expect(results(a).equals(results(b))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(a, 'summary.json'), 'utf8')).streamed).toBe(true);
  });
});

describe('memory budget, mini-batches and accumulation', () => {
  it('--max-memory cuts micro-shards and keeps the result', async () => {
    const a = out();
    const b = out();
    await ok([...base, '--extensions', 'BatchGrad,DiagGGNExact', '--out', a, '--workers', '0', '--max-memory', '300K']);
    await ok([...base, '--extensions', 'BatchGrad,DiagGGNExact', '--out', b, '--workers', '0']);
    const summary = JSON.parse(readFileSync(path.join(a, 'summary.json'), 'utf8'));
    expect(summary.shards).toBeGreaterThan(1);
    const [ra, rb] = [await readTensorMap(path.join(a, 'results.safetensors')), await readTensorMap(path.join(b, 'results.safetensors'))];
    for (const [k, t] of rb) expectClose(ra.get(k)!.data as Float32Array, t.data as Float32Array, { rtol: 1e-6, label: k });
  });

  it('--max-memory below one sample is a usage error naming the need', async () => {
    const r = await runCli([...base, '--extensions', 'BatchGrad', '--out', out(), '--workers', '0', '--max-memory', '100']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--max-memory 0\.1 KiB is below the ~[\d.]+ KiB one sample needs/);
  });

  it('--batch-size gives one result per batch, equal to running each batch alone', async () => {
    const dir = out();
    await ok([...base, '--extensions', 'BatchGrad,Variance', '--out', dir, '--workers', '0', '--batch-size', '5']);
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.batches.map((b: { N: number }) => b.N)).toEqual([5, 3]);
    // The second batch alone: rows 5..7 written as their own files.
    const x = await readTensorMap(path.join(dir, 'batch-00001', 'results.safetensors'));
    const [xi, yi] = [await readTensorFile(f('inputs.npy')), await readTensorFile(f('targets.npy'))];
    const tail = mkdtempSync(path.join(tmpdir(), 'bp-tail-'));
    const per = 2 * 6 * 6;
    writeFileSync(path.join(tail, 'x.npy'), encodeNpy({ dtype: 'float64', shape: [3, 2, 6, 6], data: (xi.data as Float64Array).slice(5 * per) }));
    writeFileSync(path.join(tail, 'y.npy'), encodeNpy({ dtype: 'int64', shape: [3], data: (yi.data as BigInt64Array).slice(5) }));
    const alone = out();
    await ok(['run', '--model', f('model.json'), '--weights', f('weights.safetensors'), '--inputs', path.join(tail, 'x.npy'), '--targets', path.join(tail, 'y.npy'),
      '--extensions', 'BatchGrad,Variance', '--out', alone, '--workers', '0', '--quiet']);
    const y = await readTensorMap(path.join(alone, 'results.safetensors'));
    for (const [k, t] of y) expectClose(x.get(k)!.data as Float32Array, t.data as Float32Array, { rtol: 1e-6, label: k });
  });

  it('--accumulate over batches equals the whole input as one batch', async () => {
    const a = out();
    const b = out();
    await ok([...base, '--extensions', 'BatchGrad,Variance,DiagGGNExact', '--out', a, '--workers', '2', '--batch-size', '3', '--accumulate']);
    await ok([...base, '--extensions', 'BatchGrad,Variance,DiagGGNExact', '--out', b, '--workers', '0']);
    const [ra, rb] = [await readTensorMap(path.join(a, 'results.safetensors')), await readTensorMap(path.join(b, 'results.safetensors'))];
    expect([...ra.keys()].sort()).toEqual([...rb.keys()].sort());
    for (const [k, t] of rb) expectClose(ra.get(k)!.data as Float32Array, t.data as Float32Array, { rtol: 1e-6, label: k });
  });
});
