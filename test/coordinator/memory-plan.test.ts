/**
 * Shard sizes under a memory budget: --max-memory cuts shards to fit by the one size estimate (the
 * default budget and its refusals are tested in test/nn/size-estimate.test.ts), and the stated
 * bound on a job's resident memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { bytesPerSample, residentBound, shardSizeFor } from '../../src/coordinator/memory-plan.ts';
import { buildNetwork, disposeNetwork, type Network } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { mulberry32, randomWeights } from '../helpers/oracle.ts';

let net: Network;

beforeAll(async () => {
  await useBackend('wasm');
  // The model: 784-1024-256-10, 1,068,810 parameters.
  const spec = parseModelSpec({
    input_shape: [784],
    layers: [
      { type: 'Linear', in_features: 784, out_features: 1024 }, { type: 'ReLU' },
      { type: 'Linear', in_features: 1024, out_features: 256 }, { type: 'ReLU' },
      { type: 'Linear', in_features: 256, out_features: 10 },
    ],
    loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
  });
  net = buildNetwork(spec, randomWeights(spec, mulberry32(1)));
});

afterAll(() => disposeNetwork(net));

const PARAM_BYTES = 1_068_810 * 4;

describe('shard sizes under --max-memory', () => {
  it('a shard fits the budget by the one size estimate (nn/size-estimate.ts), and the estimate counts the host copies', () => {
    const per = bytesPerSample(net, ['BatchGrad']);
    // At least the backend's per-sample gradient and the host copy of each row.
    expect(per).toBeGreaterThanOrEqual(2 * PARAM_BYTES);
    const size = shardSizeFor(net, ['BatchGrad'], 256 * 2 ** 20, 1000);
    expect(size).toBeGreaterThanOrEqual(1);
    // A larger budget allows larger shards, never beyond the requested size.
    expect(shardSizeFor(net, ['BatchGrad'], 1024 * 2 ** 20, 1000)).toBeGreaterThan(size);
    expect(shardSizeFor(net, ['BatchGrad'], 64 * 2 ** 30, 1000)).toBe(1000);
    // Variance reduces per-sample gradients to moments on the host: more than BatchGrad alone.
    expect(bytesPerSample(net, ['BatchGrad', 'Variance'])).toBeGreaterThan(per);
  });
});

it('the memory bound of docs/cli.md: W·(B + 256 MiB) + 256 MiB, W = 1 for --workers 0', () => {
  const MiB = 2 ** 20;
  expect(residentBound(2, 256 * MiB)).toBe(1280 * MiB);
  expect(residentBound(0, 256 * MiB)).toBe(768 * MiB);
});
