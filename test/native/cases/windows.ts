/**
 * The window kernels (BpUnfold in every layout, BpFold, BpMaxPool and its Jacobians) on native =
 * the cpu backend's host loops (src/core/ops/host/), over GEOMETRIES; max pooling with ties (first
 * maximum wins) and with the argmax kept from one call to the next in either order.
 */
import { tf } from '../../../src/core/tf.ts';
import '../../../src/core/ops/host/window-kernels.ts';
import { FOLD, MAX_POOL, MAX_POOL_JAC_T, MAX_POOL_JVP, UNFOLD } from '../../../src/core/ops/kernel-names.ts';
import { windowMap } from '../../../src/core/ops/window-index.ts';
import { prod, type WindowGeometry } from '../../../src/nn/geometry.ts';
import type { Case, HostTensor } from '../harness.ts';
import { inp } from '../inputs.ts';
import { everyWindowReads, GEOMETRIES } from './geometries.ts';
import { call } from './shape.ts';

const B = 2;
const C = 4;
const single = (t: unknown) => t as tf.Tensor;

/** torch's max pooling of planes [BC, S]: the first maximum, or the first NaN, of each window. */
function torchMaxPool(x: HostTensor, g: WindowGeometry): HostTensor {
  const map = windowMap(g);
  const S = prod(g.inSize);
  const P = prod(g.outSize);
  const K = prod(g.kernel);
  const BC = x.values.length / S;
  const values: number[] = [];
  for (let bc = 0; bc < BC; bc++) {
    for (let p = 0; p < P; p++) {
      let best = -Infinity;
      for (let k = 0; k < K; k++) {
        const s = map[k * P + p];
        if (s < 0) continue;
        const v = x.values[bc * S + s];
        if (Number.isNaN(v)) {
          best = NaN;
          break;
        }
        if (v > best) best = v;
      }
      values.push(best);
    }
  }
  return { shape: [...x.shape.slice(0, 2), ...g.outSize], dtype: 'float32', values };
}

function windowCases(): Case[] {
  const cases: Case[] = [];
  for (const [label, geom] of GEOMETRIES) {
    const x = inp([B, C, ...geom.inSize]);
    const K = prod(geom.kernel);
    const P = prod(geom.outSize);
    for (const layout of ['columns', 'samples'] as const) {
      cases.push({ name: `unfold ${layout} ${label}`, kernel: UNFOLD, inputs: [x], run: ([t]) => call(UNFOLD, { x: t }, { geom, layout, groups: 1 }), exact: true });
      const cols = inp(layout === 'columns' ? [C * K, B * P] : [B, C * K, P]);
      cases.push({ name: `fold ${layout} ${label}`, kernel: FOLD, inputs: [cols], run: ([t]) => call(FOLD, { cols: t }, { geom, layout, channels: C, batch: B }) });
    }
    for (const groups of [1, 2, 4]) {
      cases.push({ name: `unfold patches groups ${groups} ${label}`, kernel: UNFOLD, inputs: [x], run: ([t]) => call(UNFOLD, { x: t }, { geom, layout: 'patches', groups }), exact: true });
    }
    if (!everyWindowReads(geom)) continue;
    const ties = inp([B, C, ...geom.inSize], 'ties');
    const V = inp([2, B, C, ...geom.outSize]);
    const U = inp([B, C, ...geom.inSize]);
    cases.push({ name: `maxPool ties ${label}`, kernel: MAX_POOL, inputs: [ties], run: ([t]) => call(MAX_POOL, { x: t }, { geom }), exact: true });
    // The argmax is kept with x: pooled first then reused by Jᵀ, or computed by the Jvp then reused by the pool.
    cases.push({
      name: `maxPool then maxPoolJacT ${label}`,
      kernel: MAX_POOL_JAC_T,
      inputs: [ties, V],
      run: ([t, v]) => [single(call(MAX_POOL, { x: t }, { geom })), single(call(MAX_POOL_JAC_T, { x: t, V: v }, { geom }))],
    });
    cases.push({
      name: `maxPoolJvp then maxPool ${label}`,
      kernel: MAX_POOL_JVP,
      inputs: [ties, U],
      run: ([t, u]) => [single(call(MAX_POOL_JVP, { x: t, V: u }, { geom })), single(call(MAX_POOL, { x: t }, { geom }))],
      exact: true,
    });
  }
  // NaN propagates through max pooling as in torch, wherever it sits in the window.
  for (const [label, geom] of GEOMETRIES.filter(([l]) => ['1d k3 s2 p1', '2d k3 p1', '2d k2 s2 wide', '2d k4 s2 p1', '2d k2x3 s2x3 d1x2 p0,1/1,0', '3d k3 s2x1x2 p1'].includes(l))) {
    const values = Array.from({ length: 64 }, (_, i) => (i % 7 === 3 ? NaN : ((i * 5) % 11) - 5));
    cases.push({
      name: `maxPool NaN ${label}`,
      kernel: MAX_POOL,
      inputs: [inp([B, C, ...geom.inSize], { values, dtype: 'float32' })],
      run: ([t]) => call(MAX_POOL, { x: t }, { geom }),
      oracle: {
        why: 'the cpu host loop (window-loops.ts argmaxWindows) lets NaN win only as the first element of a window; torch propagates it',
        compute: ([t]) => [torchMaxPool(t, geom)],
      },
      exact: true,
    });
  }
  return cases;
}

export const WINDOW_CASES = windowCases();
