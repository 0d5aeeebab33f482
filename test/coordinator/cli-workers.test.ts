/**
 * `backpack-ts run` on worker pools, through the CLI's in-process runner: BackPACK's float64 fixture
 * cnn_relu_maxpool_ce_sum with every quantity it lists (KFRA included), on 2 worker threads and on
 * 2 worker processes, matches the fixture at rtol 1e-4 and says in summary.json how it ran; with a
 * fixed --shard-size, the pools reproduce the in-process run (--workers 0) bitwise.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { readTensorMap } from '../../src/io/tensor-file.ts';
import { EXTENSION_NAMES, SAVEFIELDS, type ExtensionName } from '../../src/vocabulary.ts';
import { runCli } from '../helpers/cli.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { fixtureCases, type FixtureCase } from '../helpers/fixtures.ts';
import { liveChildPids } from '../helpers/pool-fixtures.ts';

const NAME = 'cnn_relu_maxpool_ce_sum';
const fixture = fixtureCases().find((c) => c.name === NAME);

interface Run {
  results: Map<string, HostTensor>;
  summary: Record<string, unknown> & { loss: number; N: number; shards: number; workers: number; pool: string };
}

const outDirs: string[] = [];

async function run(f: FixtureCase, quantities: string[], extra: string[]): Promise<Run> {
  const out = mkdtempSync(path.join(tmpdir(), 'bp-cli-workers-'));
  outDirs.push(out);
  const file = (name: string) => path.join(f.dir, name);
  const args = ['run', '--model', file('model.json'), '--weights', file('weights.safetensors'), '--inputs', file('inputs.npy'),
    '--targets', file('targets.npy'), '--extensions', quantities.join(','), '--out', out, '--backend', 'wasm', '--quiet', ...extra];
  const { code, stderr } = await runCli(args);
  expect(code, stderr).toBe(0);
  return {
    results: await readTensorMap(path.join(out, 'results.safetensors')),
    summary: JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')),
  };
}

const bytes = (t: HostTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

describe.skipIf(!fixture)(`CLI --workers on the fixture ${NAME}`, () => {
  const f = fixture!;
  const quantities = Object.keys(f.extensions);
  let expected: Map<string, HostTensor>;

  beforeAll(async () => {
    expected = await readTensorMap(path.join(f.dir, 'expected.safetensors'));
  });

  afterAll(() => {
    for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
    expect(liveChildPids(), 'worker processes left running').toEqual([]);
  });

  it('lists quantities we support, KFRA among them', () => {
    expect(quantities.every((q) => (EXTENSION_NAMES as string[]).includes(q))).toBe(true);
    expect(quantities).toContain('KFRA');
  });

  function expectFixture(r: Run, label: string) {
    expect(r.summary.N).toBe(f.N);
    expect(Math.abs(r.summary.loss - f.loss) / Math.abs(f.loss), `${label}: loss`).toBeLessThan(1e-5);
    const fields = new Set(['grad', ...quantities.map((q) => SAVEFIELDS[q as ExtensionName])]);
    let compared = 0;
    for (const [key, exp] of expected) {
      if (!fields.has(key.split('.')[2])) continue; // "0.weight.kflr.1" → "kflr"
      const got = r.results.get(key);
      expect(got, `${label}: missing ${key}`).toBeDefined();
      expect(got!.shape, `${label} ${key}`).toEqual(exp.shape);
      expectClose(got!.data as Float32Array, exp.data as Float64Array, { rtol: 1e-4, label: `${label} ${key}` });
      compared++;
    }
    expect(compared).toBeGreaterThan(quantities.length);
  }

  it.each([
    ['threads', ['--workers', '2']],
    ['processes', ['--workers', '2', '--pool', 'processes']],
  ])('--workers 2 on %s matches the fixture and summary.json says how it ran', async (pool, extra) => {
    const r = await run(f, quantities, extra);
    expectFixture(r, `${pool} W=2`);
    expect(r.summary.workers).toBe(2);
    expect(r.summary.pool).toBe(pool);
    expect(r.summary.shards).toBe(8); // the default plan: 4 shards per worker, N = 8 over 2 workers
  });

  it('more workers than a small job needs: as many as get 4 shards each (no thread started for nothing), same results', async () => {
    const r = await run(f, quantities, ['--workers', '16']);
    expectFixture(r, 'W=16 on N=8');
    expect(r.summary.workers).toBe(2); // ⌈8 / 4⌉
    expect(r.summary.shards).toBe(8);
  });

  it('with --shard-size 3, --workers 0 (in-process) and --workers 2 (threads, processes) agree bitwise', async () => {
    const inProcess = await run(f, quantities, ['--workers', '0', '--shard-size', '3']);
    expectFixture(inProcess, 'in-process');
    expect(inProcess.summary.workers).toBe(0);
    expect(inProcess.summary.pool).toBe('in-process');
    expect(inProcess.summary.shards).toBe(3);
    for (const extra of [['--workers', '2', '--shard-size', '3'], ['--workers', '2', '--pool', 'processes', '--shard-size', '3']]) {
      const label = extra.join(' ');
      const pooled = await run(f, quantities, extra);
      expect(pooled.summary.shards, label).toBe(3);
      expect(pooled.summary.loss, `${label}: loss`).toBe(inProcess.summary.loss);
      expect([...pooled.results.keys()], label).toEqual([...inProcess.results.keys()]);
      for (const [key, t] of inProcess.results) {
        const u = pooled.results.get(key)!;
        expect(u.shape, `${label} ${key}`).toEqual(t.shape);
        expect(bytes(u).equals(bytes(t)), `${label} ${key}: bitwise`).toBe(true);
      }
    }
  });
});
