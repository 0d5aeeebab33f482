/**
 * What the progress bar says after its counts: the time left while shards run (from the samples
 * done so far), then, once the last shard is in, that the results are being merged and written
 * (instead of an ETA at the bar's end), and the default plan that gives the bar steps to take.
 */
import { describe, expect, it } from 'vitest';
import { progressStatus } from '../../src/cli/progress.ts';
import { defaultShardSize, shardPlan, SHARDS_PER_WORKER } from '../../src/coordinator/run-job.ts';

const at = (shardsDone: number, samplesDone: number, elapsedMs: number) => ({ shardsDone, shardsTotal: 8, samplesDone, N: 800, elapsedMs });

describe('progressStatus', () => {
  it('before the first shard: no estimate', () => {
    expect(progressStatus(at(0, 0, 500))).toBe('ETA -');
  });
  it('while shards run: the time left at the rate so far', () => {
    expect(progressStatus(at(2, 200, 10_000))).toBe('ETA 30s'); // 600 samples at 20/s
    expect(progressStatus(at(1, 100, 60_000))).toBe('ETA 7min'); // 700 samples at 100/min
    expect(progressStatus(at(1, 4, 60_000))).toBe('ETA 3.3h'); // 796 samples at 4/min
  });
  it('after the last shard: the merge and write phase', () => {
    expect(progressStatus(at(8, 800, 40_000))).toBe('all shards done: merging, writing results');
  });
});

describe('the default shard plan', () => {
  it.each([
    [8, 2, 8, 1], // N < 4W: one sample per shard
    [100, 2, 8, 13], // ⌈100 / 8⌉ = 13: 7 shards of 13 and one of 9
    [4096, 16, 64, 64],
    [3, 4, 3, 1],
  ])('N=%i on %i workers: %i shards of at most %i', (N, W, shards, size) => {
    expect(defaultShardSize(N, W)).toBe(size);
    const plan = shardPlan(N, W);
    expect(plan).toHaveLength(shards);
    expect(plan.reduce((a, s) => a + s.count, 0)).toBe(N);
    expect(Math.max(...plan.map((s) => s.count))).toBe(size);
    if (N >= SHARDS_PER_WORKER * W) expect(plan.length).toBeGreaterThanOrEqual(SHARDS_PER_WORKER * W - 1);
  });
});
