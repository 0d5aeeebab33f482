/**
 * Window geometries of the window and conv suites: 1-d, 2-d and 3-d; strides, dilations,
 * symmetric and asymmetric padding, pointwise and global windows, rows wider than a vector.
 */
import { windowGeometry, type WindowGeometry } from '../../../src/nn/geometry.ts';
import { windowMap } from '../../../src/core/ops/window-index.ts';

/** [label, inSize, kernel, stride, dilation, padLo, padHi]. */
const TABLE: [string, number[], number[], number[], number[], number[], number[]][] = [
  ['1d k3', [9], [3], [1], [1], [0], [0]],
  ['1d k3 s2 p1', [9], [3], [2], [1], [1], [1]],
  ['1d k3 d2 p2/0', [10], [3], [1], [2], [2], [0]],
  ['1d k2 s3 p0/1', [8], [2], [3], [1], [0], [1]],
  ['1d global k5', [5], [5], [1], [1], [0], [0]],
  ['1d k1 s2', [7], [1], [2], [1], [0], [0]],
  ['2d k3 p1', [6, 5], [3, 3], [1, 1], [1, 1], [1, 1], [1, 1]],
  ['2d k3x2 d2x1 p2,0/2,1', [7, 6], [3, 2], [1, 1], [2, 1], [2, 0], [2, 1]],
  ['2d k4 s2 p1', [8, 8], [4, 4], [2, 2], [1, 1], [1, 1], [1, 1]],
  ['2d k2x3 s2x3 d1x2 p0,1/1,0', [5, 7], [2, 3], [2, 3], [1, 2], [0, 1], [1, 0]],
  ['2d global k4', [4, 4], [4, 4], [1, 1], [1, 1], [0, 0], [0, 0]],
  ['2d k1 s2', [6, 6], [1, 1], [2, 2], [1, 1], [0, 0], [0, 0]],
  // Output rows longer than one 16-lane vector (the native cpu's max pool runs rows in vectors).
  ['2d k2 s2 wide', [4, 41], [2, 2], [2, 2], [1, 1], [0, 0], [0, 0]],
  ['2d k3 p1 wide', [3, 35], [3, 3], [1, 1], [1, 1], [1, 1], [1, 1]],
  ['3d k2x3x2 s1x2x1 p0,1,1', [4, 5, 3], [2, 3, 2], [1, 2, 1], [1, 1, 1], [0, 1, 1], [0, 1, 1]],
  ['3d k3 s2x1x2 p1', [5, 4, 4], [3, 3, 3], [2, 1, 2], [1, 1, 1], [1, 1, 1], [1, 1, 1]],
  ['3d k2 s2 d2x1x1 p1,0,0/0,1,1', [6, 5, 4], [2, 2, 2], [2, 2, 2], [2, 1, 1], [1, 0, 0], [0, 1, 1]],
  ['3d k1', [3, 3, 3], [1, 1, 1], [1, 1, 1], [1, 1, 1], [0, 0, 0], [0, 0, 0]],
];

export const GEOMETRIES: [string, WindowGeometry][] = TABLE.map(([label, ...g]) => [label, windowGeometry(...g, label)]);

/** Whether every window reads at least one input element (else max pooling has no answer; torch forbids it). */
export function everyWindowReads(g: WindowGeometry): boolean {
  const map = windowMap(g);
  const P = g.outSize.reduce((a, b) => a * b, 1);
  const K = map.length / P;
  for (let p = 0; p < P; p++) {
    let any = false;
    for (let k = 0; k < K; k++) any ||= map[k * P + p] >= 0;
    if (!any) return false;
  }
  return true;
}
