/**
 * Linear's squares of per-sample weight Jacobians (sum, per-sample rows, norms, and a variance's
 * centred sums) equal the squares of the materialised Jacobians, with and without leading dims,
 * for several vectors v: on the cpu backend (closed forms) and on native (closed forms and the
 * fused convolution kernel that streams them).
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/core/tf.ts';
import { useBackend } from '../../src/backends/select.ts';
import { nativeAvailability } from '../../src/backends/native/availability.ts';
import { linear, type LinearCfg } from '../../src/core/derivatives/linear.ts';
import { linearWeightSquares } from '../../src/core/derivatives/linear-squares.ts';
import { sumLeading } from '../../src/core/ops/reduce-leading.ts';
import type { Layer } from '../../src/core/derivatives/types.ts';
import type { SquaresMode } from '../../src/core/ops/kernel-names.ts';
import { expectClose } from '../helpers/expect-close.ts';

const backends = ['cpu', ...(nativeAvailability().ok ? ['native'] : [])];

function makeLayer(lead: number[], I: number, O: number): Layer<LinearCfg> {
  const setup = linear.setup({ type: 'Linear', in_features: I, out_features: O, bias: true } as never, [...lead, I], 'test');
  return {
    index: 0, name: '0', kind: 'Linear', spec: {} as never, inShape: [...lead, I], outShape: setup.outShape, cfg: setup.cfg,
    params: { weight: tf.randomNormal([O, I], 0, 1, 'float32', 3) }, buffers: {}, derived: new Map(),
  };
}

/** The same statistic from the materialised Jacobians [v, n, o, i]. */
function fromJacobians(layer: Layer<LinearCfg>, x: tf.Tensor, V: tf.Tensor, mode: SquaresMode, shift?: tf.Tensor): tf.Tensor {
  const J = linear.paramJacT!.weight!(layer, x, V, false);
  const c = shift ? J.sub(shift) : J;
  if (mode === 'centred') return tf.stack([sumLeading(c, 2), sumLeading(c.square(), 2)]);
  if (mode === 'sum') return sumLeading(c.square(), 2);
  const rows = sumLeading(c.square());
  return mode === 'rows' ? rows : rows.reshape([rows.shape[0]!, -1]).sum(1);
}

describe.each(backends)('Linear weight squares on %s = squares of the Jacobians', (backend) => {
  for (const lead of [[], [3], [2, 2]]) {
    for (const v of [1, 3]) {
      for (const mode of ['sum', 'rows', 'norms', 'centred'] as SquaresMode[]) {
        it(`leading dims [${lead}], v=${v}, ${mode}`, async () => {
          await useBackend(backend);
          const [n, I, O] = [5, 7, 4];
          const layer = makeLayer(lead, I, O);
          const x = tf.randomNormal([n, ...lead, I], 0, 1, 'float32', 1);
          const V = tf.randomNormal([v, n, ...lead, O], 0, 1, 'float32', 2);
          // A shift near the mean, as a variance uses it, but not equal to it.
          const shift = mode === 'centred' ? linear.paramJacT!.weight!(layer, x, V, true).sum(0).div(n).add(0.1) : undefined;
          const fast = linearWeightSquares(layer, x, V, mode, shift);
          if (fast === null) {
            // Only allowed where the backend has no fused kernel: leading dims or centred sums.
            expect(backend).toBe('cpu');
            expect(lead.length > 0 || mode === 'centred').toBe(true);
            return;
          }
          const want = fromJacobians(layer, x, V, mode, shift);
          expect(fast.shape).toEqual(want.shape);
          expectClose(await fast.data(), await want.data(), { rtol: 1e-5 });
        });
      }
    }
  }
});
