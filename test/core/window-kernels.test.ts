/**
 * The window kernels of every backend (native device kernels; host loops on wasm and cpu) equal an
 * independent implementation by tfjs gathers on random geometries: 1d/2d/3d, strides, dilations,
 * asymmetric padding, groups; max pooling with ties keeps the first maximum; fold is unfold's adjoint.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { foldColumns, maxPool, maxPoolJacT, maxPoolJvp, unfoldColumns, unfoldPatchesFirst } from '../../src/core/ops/windows.ts';
import { tf } from '../../src/core/tf.ts';
import { windowGeometry, type WindowGeometry } from '../../src/nn/geometry.ts';
import { ALL_BACKENDS } from '../helpers/backends.ts';
import { gatherFoldColumns, gatherMaxPool, gatherMaxPoolJacT, gatherMaxPoolJvp, gatherUnfoldColumns, gatherUnfoldPatches } from '../helpers/gather-windows.ts';

const GEOMETRIES: [string, WindowGeometry][] = [
  ['1d stride 2 pad 1', windowGeometry([9], [3], [2], [1], [1], [1], 't')],
  ['2d dilation 2 asymmetric pad', windowGeometry([7, 6], [3, 2], [1, 1], [2, 1], [2, 0], [2, 1], 't')],
  ['2d stride 2 kernel 4', windowGeometry([8, 8], [4, 4], [2, 2], [1, 1], [1, 1], [1, 1], 't')],
  ['2d kernel 3 stride 2 pad 1 (3c3d pools)', windowGeometry([12, 12], [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], 't')],
  ['3d', windowGeometry([4, 5, 3], [2, 3, 2], [1, 2, 1], [1, 1, 1], [0, 1, 1], [0, 1, 1], 't')],
];

// `+ 0` makes −0 and 0 equal: tied windows of −0 and 0 may pick either.
const values = (t: tf.Tensor) => Array.from(t.dataSync(), (v) => v + 0);
const close = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 4));

describe.each(ALL_BACKENDS)('window kernels on %s = gathers', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe.each(GEOMETRIES)('%s', (_name, g) => {
    const B = 3;
    const C = 4;
    const x = () => tf.randomNormal([B, C, ...g.inSize], 0, 1, 'float32', 7);

    it('unfoldColumns', () => {
      const input = x();
      const got = unfoldColumns(input, g);
      const want = gatherUnfoldColumns(input, g);
      expect(got.shape).toEqual(want.shape);
      expect(values(got)).toEqual(values(want));
    });

    it('foldColumns (and it is the adjoint of unfoldColumns)', () => {
      const input = x();
      const cols = tf.randomNormal(unfoldColumns(input, g).shape, 0, 1, 'float32', 3);
      const got = foldColumns(cols, g, C, B);
      expect(got.shape).toEqual([B, C, ...g.inSize]);
      close(values(got), values(gatherFoldColumns(cols, g, C, B)));
      // ⟨unfold(x), cols⟩ = ⟨x, fold(cols)⟩
      const lhs = unfoldColumns(input, g).mul(cols).sum().dataSync()[0];
      const rhs = input.mul(got).sum().dataSync()[0];
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-3 * Math.max(1, Math.abs(lhs)));
    });

    it('unfoldPatchesFirst with 2 groups', () => {
      const input = x();
      const got = unfoldPatchesFirst(input, g, 2);
      const want = gatherUnfoldPatches(input, g, 2);
      expect(got.shape).toEqual(want.shape);
      expect(values(got)).toEqual(values(want));
    });

    it('maxPool, its Jacobianᵀ and its forward-mode Jacobian, with ties', () => {
      // Rounded values make ties common.
      const input = x().mul(2).round();
      const y = maxPool(input, g);
      expect(values(y)).toEqual(values(gatherMaxPool(input, g)));
      const V = tf.randomNormal([2, ...y.shape], 0, 1, 'float32', 5);
      close(values(maxPoolJacT(input, g, V)), values(gatherMaxPoolJacT(input, g, V)));
      const U = tf.randomNormal(input.shape, 0, 1, 'float32', 9);
      close(values(maxPoolJvp(input, g, U)), values(gatherMaxPoolJvp(input, g, U)));
    });
  });
});
