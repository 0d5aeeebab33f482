/**
 * Monte-Carlo curvature: (a) DiagGGNMC, BatchDiagGGNMC and KFAC's B converge to DiagGGNExact,
 * BatchDiagGGNExact and KFLR's B as mcSamples grows, for all three losses; (b) the draws are a pure
 * function of the seed; (c) they are keyed by global sample, so any sharding gives the same numbers.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, randomBatch, randomNetwork, values } from '../helpers/oracle.ts';
import { expectClose, maxAbs } from '../helpers/expect-close.ts';
import { runBatch, type RunOptions } from '../../src/api/run.ts';
import { useBackend } from '../../src/backends/select.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { disposeNetwork, type Network } from '../../src/nn/network.ts';
import { LOSS_KINDS, type LossKind } from '../../src/vocabulary.ts';

const N = 4;
const FEW = 20;
const MANY = 2000;
/**
 * The MC estimate's error shrinks like 1/√M. Per-sample, per-entry estimates of a Bernoulli or
 * categorical curvature have a relative standard deviation up to a few units, so at M = 2000 a
 * max-norm error around 0.02–0.06 of the largest entry is typical. 0.1 for the batch sums and 0.15 for
 * per-sample diagonals leave a margin, while any bias (a wrong sampling distribution or scale, e.g.
 * a missing 1/√M or a factor 2 in MSE) is O(1) and fails. The seed is fixed, so this is deterministic.
 */
const TOL_SUM = 0.1;
const TOL_ROWS = 0.15;

const lin = (i: number, o: number) => ({ type: 'Linear', in_features: i, out_features: o });
const spec = (loss: LossKind) => ({ input_shape: [3], layers: [lin(3, 4), { type: 'Tanh' }, lin(4, 3)], loss: { type: loss, reduction: 'mean' } });

beforeAll(async () => {
  await useBackend('cpu');
});

function withNet<T>(loss: LossKind, seed: number, body: (net: Network, inputs: HostTensor, targets: HostTensor) => T): T {
  const rng = mulberry32(seed);
  const net = randomNetwork(spec(loss), rng);
  try {
    const { inputs, targets } = randomBatch(net, N, rng);
    return body(net, inputs, targets);
  } finally {
    disposeNetwork(net);
  }
}

/** max |mc − exact| / max |exact| over one parameter's tensor. */
function relErr(mc: HostTensor, exact: HostTensor): number {
  const a = values(mc);
  const e = values(exact);
  let worst = 0;
  for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]));
  return worst / maxAbs(e);
}

describe('(a) MC converges to exact', () => {
  it.each(LOSS_KINDS)('%s: diag_ggn_mc, diag_ggn_mc_batch, kfac.0 → diag_ggn_exact, diag_ggn_exact_batch, kflr.0', (loss) => {
    withNet(loss, 61 + LOSS_KINDS.indexOf(loss), (net, inputs, targets) => {
      const exact = runBatch(net, inputs, targets, { extensions: ['DiagGGNExact', 'BatchDiagGGNExact', 'KFLR'] }).results;
      const mc = (M: number) => runBatch(net, inputs, targets, { extensions: ['DiagGGNMC', 'BatchDiagGGNMC', 'KFAC'], mcSamples: M, seed: 5 }).results;
      const few = mc(FEW);
      const many = mc(MANY);
      const pairs: [string, string, number][] = [['diag_ggn_mc', 'diag_ggn_exact', TOL_SUM], ['diag_ggn_mc_batch', 'diag_ggn_exact_batch', TOL_ROWS], ['kfac.0', 'kflr.0', TOL_SUM]];
      for (const [mcField, exactField, tol] of pairs) {
        // Worst parameter for each quantity; every parameter must pass on its own.
        let worstFew = 0;
        let worstMany = 0;
        for (const p of net.paramNames) {
          const e = exact.get(`${p}.${exactField}`)!;
          expect(many.get(`${p}.${mcField}`)!.shape).toEqual(e.shape);
          const errMany = relErr(many.get(`${p}.${mcField}`)!, e);
          expect(errMany, `${loss} ${p}.${mcField} at M=${MANY}`).toBeLessThan(tol);
          worstFew = Math.max(worstFew, relErr(few.get(`${p}.${mcField}`)!, e));
          worstMany = Math.max(worstMany, errMany);
        }
        expect(worstMany, `${loss} ${mcField}: M=${MANY} vs M=${FEW}`).toBeLessThan(worstFew);
      }
      // KFAC's A is the same deterministic input factor as KFLR's.
      for (const p of net.paramNames.filter((q) => q.endsWith('weight'))) {
        expectClose(values(many.get(`${p}.kfac.1`)), values(exact.get(`${p}.kflr.1`)), { rtol: 1e-6, label: `${p}.kfac.1` });
      }
    });
  });
});

const MC_FIELDS = ['diag_ggn_mc', 'diag_ggn_mc_batch', 'sqrt_ggn_mc', 'kfac.0'];
const MC_OPTS = (seed: number, extra: Partial<RunOptions> = {}): RunOptions => ({ extensions: ['DiagGGNMC', 'BatchDiagGGNMC', 'SqrtGGNMC', 'KFAC'], mcSamples: 3, seed, ...extra });

const bitwise = (a: HostTensor, b: HostTensor) => a.data.length === b.data.length && a.data.every((v, i) => Object.is(v, b.data[i]));

describe('(b) determinism', () => {
  it.each(LOSS_KINDS)('%s: same seed → bitwise identical; different seed → different', (loss) => {
    withNet(loss, 71 + LOSS_KINDS.indexOf(loss), (net, inputs, targets) => {
      const a = runBatch(net, inputs, targets, MC_OPTS(11)).results;
      const b = runBatch(net, inputs, targets, MC_OPTS(11)).results;
      const c = runBatch(net, inputs, targets, MC_OPTS(12)).results;
      for (const p of net.paramNames) {
        for (const f of MC_FIELDS) {
          const key = `${p}.${f}`;
          expect(bitwise(a.get(key)!, b.get(key)!), `${loss} ${key}: same seed`).toBe(true);
          expect(bitwise(a.get(key)!, c.get(key)!), `${loss} ${key}: different seed`).toBe(false);
        }
      }
    });
  });
});

describe('(c) sharding independence (per-sample keyed randomness)', () => {
  it.each(LOSS_KINDS)('%s: shard sizes 1, 3 and N give the same MC results', (loss) => {
    withNet(loss, 81 + LOSS_KINDS.indexOf(loss), (net, inputs, targets) => {
      const whole = runBatch(net, inputs, targets, MC_OPTS(21)).results;
      for (const shardSize of [1, 3, N]) {
        const sharded = runBatch(net, inputs, targets, MC_OPTS(21, { shardSize })).results;
        for (const p of net.paramNames) {
          // Per-sample rows never mix samples: bitwise identical.
          for (const f of ['diag_ggn_mc_batch', 'sqrt_ggn_mc']) {
            expect(bitwise(sharded.get(`${p}.${f}`)!, whole.get(`${p}.${f}`)!), `${loss} ${p}.${f} shard size ${shardSize}`).toBe(true);
          }
          // Sums add float32 per-shard partials in float64, so the summation order (not the draws)
          // differs with the sharding: equal to float32 rounding. Shard-keyed draws would differ by O(1).
          for (const f of ['diag_ggn_mc', 'kfac.0']) {
            expectClose(values(sharded.get(`${p}.${f}`)), values(whole.get(`${p}.${f}`)), { rtol: 1e-6, label: `${loss} ${p}.${f} shard size ${shardSize}` });
          }
        }
      }
    });
  });

  it('subsampled rows are the same rows as without subsampling', () => {
    withNet('CrossEntropyLoss', 91, (net, inputs, targets) => {
      const whole = runBatch(net, inputs, targets, MC_OPTS(3)).results;
      const sub = runBatch(net, inputs, targets, MC_OPTS(3, { subsampling: [3, 1], shardSize: 2 })).results;
      for (const p of net.paramNames) {
        const all = values(whole.get(`${p}.diag_ggn_mc_batch`));
        const rows = sub.get(`${p}.diag_ggn_mc_batch`)!;
        const got = values(rows);
        const width = all.length / N;
        expect(rows.shape[0]).toBe(2);
        expect(Array.from(got.subarray(0, width))).toEqual(Array.from(all.subarray(3 * width, 4 * width)));
        expect(Array.from(got.subarray(width))).toEqual(Array.from(all.subarray(width, 2 * width)));
      }
    });
  });
});
