/**
 * The host buffer pool: a recycled buffer is handed out again (same memory) for the same type and
 * length only, once; arrays it did not make, small ones, detached ones and double returns are
 * ignored; past its limit the arrays freed longest ago are dropped first. And a loop of runs that releases its results gets the same values every time (the
 * pooled sums and results never leak one run's numbers into the next).
 */
import { describe, expect, it } from 'vitest';
import { recycle, setFreeLimit, takeFloat32, takeFloat64 } from '../../src/io/host-buffers.ts';
import { releaseHostData } from '../../src/io/host-tensor.ts';
import { runBatch, releaseResults } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import { buildNetwork } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { mulberry32, randomWeights } from '../helpers/oracle.ts';

const BIG = 1 << 15;

describe('host buffer pool', () => {
  it('hands a recycled buffer out again, for its own type and length only', () => {
    const a = takeFloat64(BIG);
    recycle(a);
    expect(takeFloat32(BIG)).not.toBe(a);
    expect(takeFloat64(BIG + 1)).not.toBe(a);
    expect(takeFloat64(BIG)).toBe(a);
    expect(takeFloat64(BIG)).not.toBe(a); // handed out once
  });

  it('past its limit, drops the arrays freed longest ago, not the one given back now', () => {
    const length = 1 << 18; // 1 MiB of float32
    setFreeLimit(4 * 4 * length);
    try {
      const arrays = Array.from({ length: 5 }, () => takeFloat32(length));
      for (const a of arrays) recycle(a); // the fifth pushes the first out
      const again = Array.from({ length: 5 }, () => takeFloat32(length));
      expect(new Set(again.slice(0, 4))).toEqual(new Set(arrays.slice(1)));
      expect(arrays).not.toContain(again[4]); // made anew
      // An array larger than the whole limit is not kept, and drops nothing.
      const kept = takeFloat64(BIG);
      recycle(kept);
      recycle(takeFloat32(5 * length));
      expect(takeFloat64(BIG)).toBe(kept);
    } finally {
      setFreeLimit();
    }
  });

  it('ignores foreign, small, detached and twice-returned arrays', () => {
    const foreign = new Float64Array(BIG);
    recycle(foreign);
    expect(takeFloat64(BIG)).not.toBe(foreign);
    const small = takeFloat32(16);
    recycle(small);
    expect(takeFloat32(16)).not.toBe(small);
    const twice = takeFloat32(BIG + 3);
    releaseHostData(twice);
    releaseHostData(twice);
    expect(takeFloat32(BIG + 3)).toBe(twice);
    expect(takeFloat32(BIG + 3)).not.toBe(twice);
    const moved = takeFloat64(BIG + 5);
    structuredClone(moved.buffer, { transfer: [moved.buffer] });
    recycle(moved);
    expect(takeFloat64(BIG + 5) === moved).toBe(false);
  });

  it('runs that release their results give the same results every time', async () => {
    await useBackend('cpu');
    const spec = parseModelSpec({ input_shape: [200], layers: [{ type: 'Linear', in_features: 200, out_features: 100 }, { type: 'ReLU' }, { type: 'Linear', in_features: 100, out_features: 3 }], loss: { type: 'CrossEntropyLoss', reduction: 'mean' } });
    const net = buildNetwork(spec, randomWeights(spec, mulberry32(1)));
    const N = 6;
    const inputs = { dtype: 'float32' as const, shape: [N, 200], data: Float32Array.from({ length: N * 200 }, (_, i) => Math.sin(i)) };
    const targets = { dtype: 'int64' as const, shape: [N], data: BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 3)) };
    const run = () => runBatch(net, inputs, targets, { extensions: ['KFAC', 'Variance', 'SumGradSquared'], shardSize: 4 });
    const first = run();
    const copy = new Map([...first.results].map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
    releaseResults(first);
    for (let i = 0; i < 3; i++) {
      const again = run();
      for (const [k, t] of again.results) expect(Array.from(t.data as Float32Array), k).toEqual(copy.get(k));
      releaseResults(again);
    }
  });
});
