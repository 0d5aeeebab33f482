/**
 * Shard sizes under a memory budget: --max-memory cuts shards to fit (the estimate counts the host
 * copy Variance's moments need), and without it a default budget still keeps a shard of
 * per-sample gradients of a large model below wasm's 4 GiB heap; an explicit --shard-size wins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { bytesPerSample, DEFAULT_SHARD_BUDGET_BYTES, defaultShardSize, residentBound, shardSizeFor } from '../../src/coordinator/memory-plan.ts';
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

describe('bytesPerSample', () => {
  it('counts the backend per-sample gradient and each host copy: BatchGrad 2, Variance 2, both 3 parameter copies', () => {
    const copies = (q: Parameters<typeof bytesPerSample>[1]) => Math.round(bytesPerSample(net, q) / PARAM_BYTES);
    expect(copies(['BatchGrad'])).toBe(2);
    expect(copies(['Variance'])).toBe(2);
    expect(copies(['Variance', 'GradientNoiseScale'])).toBe(2); // one shared copy
    expect(copies(['BatchGrad', 'Variance'])).toBe(3);
  });
});

describe('shard sizes', () => {
  it('--max-memory 256M: ~31 samples of BatchGrad a shard', () => {
    expect(shardSizeFor(net, ['BatchGrad'], 256 * 2 ** 20, 1000)).toBe(Math.floor((256 * 2 ** 20) / bytesPerSample(net, ['BatchGrad'])));
    expect(shardSizeFor(net, ['BatchGrad'], 256 * 2 ** 20, 1000)).toBeGreaterThanOrEqual(29);
  });

  it('without --max-memory: the even split of N = 2000 over 2 workers is cut to the default budget; small splits and --shard-size are kept', () => {
    const cut = defaultShardSize(net, ['BatchGrad'], undefined, 1000);
    expect(cut).toBe(Math.floor(DEFAULT_SHARD_BUDGET_BYTES / bytesPerSample(net, ['BatchGrad'])));
    expect(cut! * 2 * PARAM_BYTES).toBeLessThan(4 * 2 ** 30); // backend + host copies under wasm's heap limit
    expect(defaultShardSize(net, ['BatchGrad'], undefined, 100)).toBeUndefined();
    expect(defaultShardSize(net, ['BatchGrad'], 1000, 1000)).toBe(1000);
  });
});

it('the README bound: W·(B + 256 MiB) + 256 MiB, W = 1 for --workers 0', () => {
  const MiB = 2 ** 20;
  expect(residentBound(2, 256 * MiB)).toBe(1280 * MiB);
  expect(residentBound(0, 256 * MiB)).toBe(768 * MiB);
});
