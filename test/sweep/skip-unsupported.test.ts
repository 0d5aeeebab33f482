/**
 * `sweep --skip-unsupported` (options.skipUnsupported) on a CNN with BatchNorm asking for KFAC.
 * Oracle: the library's runBatch with skipUnsupported — each batch's tensors (mode "both": and the
 * pass's, as one batch of all samples) equal it for the layers that support a quantity, and
 * summary.json and every unit.json list the same skipped pairs. In this process and on a pool.
 * Without the option the sweep is refused, typed, before it writes anything; a resume without the
 * option of a sweep started with it is a SweepStateError that says so, and with it continues.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch, type RunResult } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { sliceRows } from '../../src/core/inputs.ts';
import { UnsupportedModuleError } from '../../src/errors/index.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { readTensorFile, readTensorMap } from '../../src/io/tensor-file.ts';
import { buildNetwork, disposeNetwork, type Network } from '../../src/nn/network.ts';
import { readManifest, runSweep, SweepStateError } from '../../src/sweep/index.ts';
import { unitDir } from '../../src/sweep/output.ts';
import { readSweepSpec, type SweepSpec } from '../../src/sweep/spec.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';
import { runCli } from '../helpers/cli.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { values } from '../helpers/oracle.ts';
import { batchNormSweep, tempDir } from './helpers.ts';

const N = 12;
const QUANTITIES: ExtensionName[] = ['KFAC', 'DiagGGNExact'];
const tmp = tempDir('bp-sweep-skip-');
let file: string;
let net: Network;
let inputs: HostTensor;
let targets: HostTensor;

beforeAll(async () => {
  await useBackend('wasm');
  file = await batchNormSweep(tmp.dir, { quantities: QUANTITIES, options: { mode: 'both', shardSize: 2, topK: 2 } }, N);
  net = buildNetwork((await readSweepSpec(file)).model, await readTensorMap(path.join(tmp.dir, 'ckpt.safetensors')));
  inputs = await readTensorFile(path.join(tmp.dir, 'data', 'inputs.npy'));
  targets = await readTensorFile(path.join(tmp.dir, 'data', 'targets.npy'));
});
afterAll(() => {
  disposeNetwork(net);
  tmp.cleanup();
});

const at = (f: string) => path.join(tmp.dir, f);
const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
const withSkip = async (): Promise<SweepSpec> => {
  const spec = await readSweepSpec(file);
  spec.options.skipUnsupported = true;
  return spec;
};
const local = (start: number, count: number): RunResult =>
  runBatch(net, sliceRows(inputs, start, count), sliceRows(targets, start, count), { extensions: QUANTITIES, shardSize: 2, skipUnsupported: true });

/** The unit's tensors (per batch and accumulated) against runBatch, and its listed pairs against runBatch's. */
async function expectUnitMatchesRun(out: string) {
  const summary = readJson(path.join(out, 'summary.json'));
  const [{ id }] = (await readManifest(out))!.units;
  const unit = readJson(path.join(unitDir(out, id), 'unit.json'));
  const oracle = local(0, N);
  expect(oracle.skipped?.map((s) => [s.layer, s.module, s.quantity])).toEqual([['1', 'BatchNorm1d', 'KFAC']]);
  for (const listed of [summary.skipped, unit.skipped]) expect(listed).toEqual(JSON.parse(JSON.stringify(oracle.skipped)));
  const tensors = await readTensorMap(path.join(unitDir(out, id), 'results.safetensors'));
  const expected = new Map<string, HostTensor>(oracle.results);
  for (const k of [0, 1, 2]) for (const [key, t] of local(4 * k, 4).results) expected.set(`batch-0000${k}/${key}`, t);
  expect([...tensors.keys()].sort()).toEqual([...expected.keys()].sort());
  expect([...tensors.keys()].filter((k) => /(^|\/)1\.[a-z]+\.kfac/.test(k))).toEqual([]);
  expect([...tensors.keys()]).toContain('0.weight.kfac.1');
  for (const [key, t] of expected) expectClose(values(tensors.get(key)!), values(t), { rtol: 1e-5, atol: 1e-7 * maxAbs(values(t)), label: key });
}

describe('a sweep with skipUnsupported', () => {
  it('without it: UnsupportedModuleError before anything is written', async () => {
    const err = await runSweep(await readSweepSpec(file), { out: at('refused'), workers: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedModuleError);
    expect((err as Error).message).toMatch(/^KFAC is not supported for BatchNorm1d \(layer '1'\): no Kronecker factorisation/);
    expect(existsSync(at('refused'))).toBe(false);
  });

  it.each([[0], [1]])('with it (--workers %s): each batch and the pass equal runBatch, the pairs are listed', async (workers) => {
    const out = at(`skip-${workers}`);
    const s = await runSweep(await withSkip(), { out, workers });
    expect([s.units, s.computed, s.rows.length]).toEqual([1, 1, 4]);
    await expectUnitMatchesRun(out);
    // The rows' DiagGGNExact trace covers every layer (BatchNorm supports it).
    const all = local(0, N);
    const trace = net.paramNames.reduce((a, p) => a + values(all.results.get(`${p}.diag_ggn_exact`)!).reduce((x, y) => x + y, 0), 0);
    expect(s.rows.find((r) => r.batch === 'all')!.ggn_trace_exact).toBeCloseTo(trace, 5);
  }, 120_000);

  it('resuming: without the option a SweepStateError that says so; with it the sweep continues', async () => {
    const out = at('skip-0');
    const err = await runSweep(await readSweepSpec(file), { out, workers: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SweepStateError);
    expect((err as Error).message).toMatch(/holds a sweep started with --skip-unsupported \(it leaves out 1:KFAC\); pass --skip-unsupported/);
    const s = await runSweep(await withSkip(), { out, workers: 0 });
    expect([s.resumed, s.computed]).toEqual([1, 0]);
    await expectUnitMatchesRun(out);
    // --restart without it: the ordinary refusal (nothing of the old sweep decides).
    await expect(runSweep(await readSweepSpec(file), { out, workers: 0, restart: true })).rejects.toThrow(UnsupportedModuleError);
  });

  it('the CLI: --skip-unsupported warns on stderr once and writes the pairs', async () => {
    const refused = await runCli(['sweep', file, '--workers', '0', '--out', at('cli-refused'), '--quiet']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/UnsupportedModuleError: KFAC is not supported for BatchNorm1d \(layer '1'\)/);
    const r = await runCli(['sweep', file, '--workers', '0', '--out', at('cli'), '--skip-unsupported']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/warning: skipped KFAC for layer '1' \(BatchNorm1d\): no Kronecker factorisation/g)).toHaveLength(1);
    await expectUnitMatchesRun(at('cli'));
  });
});
