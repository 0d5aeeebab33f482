/**
 * The two implementations of the sliding-window ops (loops on the host for wasm, gathers
 * elsewhere) agree exactly on random geometries: 1d/2d/3d, strides, dilations, asymmetric padding,
 * groups; and max pooling with ties keeps the first maximum in both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { forceWindowKernels, foldColumns, maxPool, maxPoolJacT, unfoldColumns, unfoldPatchesFirst } from '../../src/core/ops/windows.ts';
import { tf } from '../../src/core/tf.ts';
import { windowGeometry, type WindowGeometry } from '../../src/nn/geometry.ts';

const GEOMETRIES: [string, WindowGeometry][] = [
  ['1d stride 2 pad 1', windowGeometry([9], [3], [2], [1], [1], [1], 't')],
  ['2d dilation 2 asymmetric pad', windowGeometry([7, 6], [3, 2], [1, 1], [2, 1], [2, 0], [2, 1], 't')],
  ['2d stride 2 kernel 4', windowGeometry([8, 8], [4, 4], [2, 2], [1, 1], [1, 1], [1, 1], 't')],
  ['3d', windowGeometry([4, 5, 3], [2, 3, 2], [1, 2, 1], [1, 1, 1], [0, 1, 1], [0, 1, 1], 't')],
];

function both<T>(f: () => T): [T, T] {
  forceWindowKernels('host');
  const a = f();
  forceWindowKernels('gather');
  const b = f();
  forceWindowKernels(null);
  return [a, b];
}

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe.each(['wasm', 'cpu'])('host loops = gathers on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  afterAll(() => forceWindowKernels(null));

  describe.each(GEOMETRIES)('%s', (_name, g) => {
    const B = 3;
    const C = 4;
    const x = () => tf.randomNormal([B, C, ...g.inSize], 0, 1, 'float32', 7);

    it('unfoldColumns', () => {
      const input = x();
      const [h, q] = both(() => unfoldColumns(input, g));
      expect(h.shape).toEqual(q.shape);
      expect(values(h)).toEqual(values(q));
    });

    it('foldColumns (and it is the adjoint of unfoldColumns)', () => {
      const input = x();
      const cols = tf.randomNormal(unfoldColumns(input, g).shape, 0, 1, 'float32', 3);
      const [h, q] = both(() => foldColumns(cols, g, C, B));
      expect(h.shape).toEqual([B, C, ...g.inSize]);
      const hv = values(h);
      const qv = values(q);
      hv.forEach((v, i) => expect(v).toBeCloseTo(qv[i], 5));
      // ⟨unfold(x), cols⟩ = ⟨x, fold(cols)⟩
      const lhs = unfoldColumns(input, g).mul(cols).sum().dataSync()[0];
      const rhs = input.mul(h).sum().dataSync()[0];
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-3 * Math.max(1, Math.abs(lhs)));
    });

    it('unfoldPatchesFirst with 2 groups', () => {
      const input = x();
      const [h, q] = both(() => unfoldPatchesFirst(input, g, 2));
      expect(h.shape).toEqual(q.shape);
      expect(values(h)).toEqual(values(q));
    });

    it('maxPool and its Jacobianᵀ, with ties', () => {
      // Rounded values make ties common.
      const input = x().mul(2).round();
      const [h, q] = both(() => maxPool(input, g));
      expect(values(h)).toEqual(values(q));
      const V = tf.randomNormal([2, ...h.shape], 0, 1, 'float32', 5);
      const [hj, qj] = both(() => maxPoolJacT(input, g, V));
      const a = values(hj);
      const b = values(qj);
      a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 5));
    });
  });
});
