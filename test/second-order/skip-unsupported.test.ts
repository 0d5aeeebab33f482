/**
 * --skip-unsupported (library: `skipUnsupported`): a quantity is computed for every layer that
 * supports it, and the other (layer, quantity) pairs are listed — in RunResult.skipped, on stderr
 * and in summary.json — instead of refusing the whole job. Oracles: the computed layers' KFLR B
 * (bias) is the exact GGN block of the bias from autodiff Jacobians, KFRA's B the autodiff KFRA
 * recursion, DiagHessian the double-autodiff Hessian; other quantities equal a run without the
 * skipped quantity; sharded runs equal the unsharded one. Without the flag the job is refused
 * before anything runs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, randomBatch, randomNetwork, randomWeights, values } from '../helpers/oracle.ts';
import { diagonal, ggnBlock, ggnOracle, hessianOracle, kfraOracle, sumAll } from '../helpers/second-order-oracle.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { runCli } from '../helpers/cli.ts';
import { MODEL_SPECS } from '../helpers/pool-fixtures.ts';
import { runBatch } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { DERIVATIVES } from '../../src/core/derivatives/index.ts';
import { UnsupportedModuleError } from '../../src/errors/index.ts';
import { encodeNpy } from '../../src/io/npy.ts';
import { encodeSafetensors, parseSafetensors } from '../../src/io/safetensors.ts';
import { disposeNetwork, type Network } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import type { ExtensionName } from '../../src/vocabulary.ts';

const RTOL = 1e-4;
const N = 4;
const lin = (i: number, o: number) => ({ type: 'Linear', in_features: i, out_features: o });

/** A CNN with BatchNorm (no Kronecker factors) between layers that have them. */
const CNN = MODEL_SPECS.bncnn;

beforeAll(async () => {
  await useBackend('cpu');
});

function withNet(spec: unknown, seed: number, fn: (net: Network, inputs: HostTensor, targets: HostTensor) => void): void {
  const rng = mulberry32(seed);
  const net = randomNetwork(spec, rng);
  try {
    const { inputs, targets } = randomBatch(net, N, rng);
    fn(net, inputs, targets);
  } finally {
    disposeNetwork(net);
  }
}

describe('library: skipUnsupported', () => {
  it('without it, KFLR on a network with BatchNorm is refused before computing', () => {
    withNet(CNN, 1, (net, inputs, targets) => {
      expect(() => runBatch(net, inputs, targets, { extensions: ['KFLR'] })).toThrow(UnsupportedModuleError);
      expect(() => runBatch(net, inputs, targets, { extensions: ['KFLR'] })).toThrow(/^KFLR is not supported for BatchNorm1d \(layer '1'\): no Kronecker/);
    });
  });

  it('KFLR, KFRA and DiagGGNExact: BatchNorm skipped and listed, the other layers match their oracles', () => {
    withNet(CNN, 2, (net, inputs, targets) => {
      const extensions: ExtensionName[] = ['KFLR', 'KFRA', 'DiagGGNExact'];
      const run = runBatch(net, inputs, targets, { extensions, skipUnsupported: true });
      expect(run.skipped?.map((s) => [s.layer, s.module, s.quantity])).toEqual([['1', 'BatchNorm1d', 'KFLR'], ['1', 'BatchNorm1d', 'KFRA']]);
      expect(run.skipped![0].reason).toMatch(/no Kronecker factorisation is defined for BatchNorm/);
      const keys = [...run.results.keys()];
      expect(keys.filter((k) => k.startsWith('1.') && /kflr|kfra/.test(k))).toEqual([]);
      for (const p of ['0.weight', '4.weight']) for (const f of ['kflr.0', 'kflr.1', 'kfra.0', 'kfra.1']) expect(keys).toContain(`${p}.${f}`);
      // DiagGGNExact is supported everywhere: BatchNorm has it, and it equals a run without the Kronecker quantities.
      const plain = runBatch(net, inputs, targets, { extensions: ['DiagGGNExact'] });
      for (const p of net.paramNames) expectClose(values(run.results.get(`${p}.diag_ggn_exact`)!), values(plain.results.get(`${p}.diag_ggn_exact`)!), { rtol: 1e-6, label: p });
      // KFLR's B of a bias is that bias's exact GGN block.
      const samples = ggnOracle(net, inputs, targets);
      for (const p of ['0.bias', '4.bias']) {
        const block = sumAll(samples.map((s) => ggnBlock(s, p)));
        expectClose(values(run.results.get(`${p}.kflr.0`)!), block, { rtol: RTOL, atol: 1e-6 * maxAbs(block), label: `${p}.kflr.0` });
      }
      // KFRA's B per layer: the autodiff recursion (it passes through BatchNorm's Jacobian).
      const kfra = kfraOracle(net, inputs, targets);
      for (const [i, p] of [[0, '0.bias'], [4, '4.bias']] as const) {
        expectClose(values(run.results.get(`${p}.kfra.0`)!), kfra.get(i)!, { rtol: RTOL, atol: 1e-6 * maxAbs(kfra.get(i)!), label: `${p}.kfra.0` });
      }
      // Sharded (shards of 1 and 3 samples) equals unsharded, skipped pairs included.
      for (const shardSize of [1, 3]) {
        const sharded = runBatch(net, inputs, targets, { extensions, skipUnsupported: true, shardSize });
        expect([...sharded.results.keys()].sort()).toEqual(keys.sort());
        for (const k of keys) expectClose(values(sharded.results.get(k)!), values(run.results.get(k)!), { rtol: 1e-5, atol: 1e-7 * maxAbs(values(run.results.get(k)!)), label: `shard ${shardSize} ${k}` });
      }
    });
  });

  describe('a record without its input Hessian ends the Hessian backprop there', () => {
    const records = DERIVATIVES as unknown as Record<string, Record<string, unknown>>;
    const original = records.Tanh;
    afterEach(() => (records.Tanh = original));

    it('DiagHessian: the layers after the Tanh match double autodiff, the one before it is skipped', () => {
      const spec = { input_shape: [3], layers: [lin(3, 4), { type: 'Tanh' }, lin(4, 4), { type: 'Sigmoid' }, lin(4, 3)], loss: { type: 'MSELoss', reduction: 'sum' } };
      withNet(spec, 3, (net, inputs, targets) => {
        const { inputHessian: _dropped, ...rest } = original;
        records.Tanh = rest;
        const run = runBatch(net, inputs, targets, { extensions: ['DiagHessian', 'BatchGrad'], skipUnsupported: true });
        expect(run.skipped?.map((s) => [s.layer, s.quantity])).toEqual([['0', 'DiagHessian']]);
        expect(run.skipped![0].reason).toMatch(/crosses Tanh \(layer '1'\): the Tanh record does not state its second derivative/);
        expect(run.results.has('0.weight.diag_h')).toBe(false);
        expect(run.results.has('0.weight.grad_batch')).toBe(true);
        const oracle = hessianOracle(net, inputs, targets, ['2.weight', '2.bias', '4.weight', '4.bias']);
        for (const [p, blocks] of oracle) {
          const expected = diagonal(sumAll(blocks));
          expectClose(values(run.results.get(`${p}.diag_h`)!), expected, { rtol: RTOL, atol: 1e-6 * maxAbs(expected), label: `${p}.diag_h` });
        }
      });
    });
  });
});

describe('CLI: --skip-unsupported', () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'bp-skip-'));
    const spec = parseModelSpec(CNN);
    writeFileSync(file('model.json'), JSON.stringify(CNN));
    writeFileSync(file('w.safetensors'), encodeSafetensors(Object.fromEntries(randomWeights(spec, mulberry32(9)))));
    const rng = mulberry32(10);
    writeFileSync(file('x.npy'), encodeNpy({ dtype: 'float32', shape: [N, 2, 4], data: Float32Array.from({ length: N * 8 }, () => rng() - 0.5) }));
    writeFileSync(file('y.npy'), encodeNpy({ dtype: 'int64', shape: [N], data: BigInt64Array.from([0n, 1n, 2n, 1n]) }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (out: string, extra: string[]) =>
    runCli(['run', '--model', file('model.json'), '--weights', file('w.safetensors'), '--inputs', file('x.npy'), '--targets', file('y.npy'), '--out', file(out), '--extensions', 'KFAC,KFRA,BatchGrad', '--quiet', ...extra]);

  it('without the flag: a typed error, non-zero exit, no results', async () => {
    const r = await run('refused', ['--workers', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/UnsupportedModuleError: KFAC is not supported for BatchNorm1d \(layer '1'\)/);
  });

  it.each([['0'], ['2']])('with it (--workers %s): skipped pairs on stderr and in summary.json, absent from the results', async (workers) => {
    const r = await run(`skip-${workers}`, ['--workers', workers, '--shard-size', '2', '--skip-unsupported']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: skipped KFAC for layer '1' \(BatchNorm1d\): no Kronecker factorisation is defined for BatchNorm/);
    const summary = JSON.parse(readFileSync(file(`skip-${workers}/summary.json`), 'utf8'));
    const bn = (quantity: string) => ({ layer: '1', module: 'BatchNorm1d', quantity, reason: expect.stringMatching(/no Kronecker factorisation/) });
    expect(summary.skipped).toEqual([bn('KFAC'), bn('KFRA')]);
    const results = parseSafetensors(readFileSync(file(`skip-${workers}/results.safetensors`)), 'results');
    const keys = [...results.tensors.keys()];
    expect(keys.filter((k) => k.startsWith('1.') && /kfac|kfra/.test(k))).toEqual([]);
    // KFRA through workers: its collective passes BatchNorm's Jacobian and gives B to the other layers.
    for (const k of ['0.weight.kfac.0', '0.weight.kfac.1', '4.bias.kfac.0', '0.weight.kfra.0', '0.weight.kfra.1', '4.bias.kfra.0', '1.weight.grad_batch']) expect(keys).toContain(k);
  });

  it('streamed (--stream): the same pairs in summary.json, the same results', async () => {
    const r = await run('skip-stream', ['--workers', '0', '--shard-size', '2', '--skip-unsupported', '--stream']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(file('skip-stream/summary.json'), 'utf8'));
    expect(summary.streamed).toBe(true);
    expect(summary.skipped).toEqual(JSON.parse(readFileSync(file('skip-0/summary.json'), 'utf8')).skipped);
    const read = (out: string) => parseSafetensors(readFileSync(file(`${out}/results.safetensors`)), out).tensors;
    const [plain, streamed] = [read('skip-0'), read('skip-stream')];
    expect([...streamed.keys()].sort()).toEqual([...plain.keys()].sort());
    for (const [k, t] of plain) expectClose(values(streamed.get(k)!), values(t), { rtol: 1e-6, atol: 1e-7 * maxAbs(values(t)), label: k });
    // Without the option, a streamed summary of a job that skips nothing has no "skipped" (as a held one).
    const spec = path.join(dir, 'mlp.json');
    writeFileSync(spec, JSON.stringify({ input_shape: [2, 4], layers: [{ type: 'Flatten' }, lin(8, 3)], loss: { type: 'CrossEntropyLoss', reduction: 'mean' } }));
    writeFileSync(file('mlp.safetensors'), encodeSafetensors(Object.fromEntries(randomWeights(parseModelSpec(JSON.parse(readFileSync(spec, 'utf8'))), mulberry32(3)))));
    const plainRun = await runCli(['run', '--model', spec, '--weights', file('mlp.safetensors'), '--inputs', file('x.npy'), '--targets', file('y.npy'), '--out', file('mlp-stream'), '--extensions', 'KFAC', '--workers', '0', '--stream', '--quiet']);
    expect(plainRun.code, plainRun.stderr).toBe(0);
    expect(JSON.parse(readFileSync(file('mlp-stream/summary.json'), 'utf8'))).not.toHaveProperty('skipped');
  });

  it('the worker run (2 workers, KFRA by all-reduce) equals the in-process one', () => {
    const read = (out: string) => parseSafetensors(readFileSync(file(`${out}/results.safetensors`)), out).tensors;
    const [inProcess, workers] = [read('skip-0'), read('skip-2')];
    expect([...workers.keys()].sort()).toEqual([...inProcess.keys()].sort());
    for (const [k, t] of inProcess) expectClose(values(workers.get(k)!), values(t), { rtol: 1e-5, atol: 1e-7 * maxAbs(values(t)), label: k });
  });
});
