/** The sliding-window custom kernels (src/core/ops/kernel-names.ts) as native device kernels. */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { FOLD, MAX_POOL, MAX_POOL_JAC_T, MAX_POOL_JVP, UNFOLD, type FoldAttrs, type UnfoldAttrs, type UnfoldLayout, type WindowAttrs } from '../../../core/ops/kernel-names.ts';
import type { NativeBackend } from '../backend.ts';
import { params } from '../params.ts';
import { windowParams } from '../window-maps.ts';
import { kernel } from './util.ts';

/** (batch, channels, cb, cc, ck, cp) of an unfolded layout: element (b, c, k, p) at b·cb + c·cc + k·ck + p·cp. */
function layoutOf(layout: UnfoldLayout, B: number, C: number, K: number, P: number, groups: number): number[] {
  if (layout === 'columns') return [B, C, P, K * B * P, B * P, 1];
  if (layout === 'samples') return [B, C, C * K * P, K * P, P, 1];
  // patches [B, G, P, Cg·K]: the image read as [B·G, Cg, S].
  const cg = C / groups;
  return [B * groups, cg, P * cg * K, K, 1, cg * K];
}

function unfold(backend: NativeBackend, x: TensorInfo, a: UnfoldAttrs): TensorInfo {
  const [B, C] = x.shape;
  const w = backend.windows.of(a.geom);
  const shape = a.layout === 'columns' ? [C * w.K, B * w.P] : a.layout === 'samples' ? [B, C * w.K, w.P] : [B, a.groups, w.P, (C / a.groups) * w.K];
  const y = backend.makeOutput(shape, 'float32');
  backend.addon.unfold(params.begin().push(...windowParams(w), ...layoutOf(a.layout, B, C, w.K, w.P, a.groups), backend.handle(x), backend.handle(y), 0).block);
  return y;
}

function fold(backend: NativeBackend, cols: TensorInfo, a: FoldAttrs): TensorInfo {
  const w = backend.windows.of(a.geom);
  const y = backend.makeOutput([a.batch, a.channels, ...a.geom.inSize], 'float32');
  backend.addon.fold(params.begin().push(...windowParams(w), ...layoutOf(a.layout, a.batch, a.channels, w.K, w.P, 1), backend.handle(y), backend.handle(cols), 0).block);
  return y;
}

/**
 * The first-maximum position of every window, [B·C·P] int32: computed by the forward pass (or the
 * first backward one) and kept with x, since every Jacobian product of the layer needs it again.
 */
function argmax(backend: NativeBackend, x: TensorInfo, a: WindowAttrs, y?: TensorInfo): TensorInfo {
  const w = backend.windows.of(a.geom);
  let computed = false;
  const arg = backend.derivedOf(x, `argmax:${JSON.stringify(a.geom)}`, () => {
    computed = true;
    const t = backend.makeOutput([x.shape[0] * x.shape[1] * w.P], 'int32');
    backend.addon.maxPool(params.begin().push(...windowParams(w), x.shape[0] * x.shape[1], backend.handle(x), y ? backend.handle(y) : -1, backend.handle(t)).block);
    return t;
  });
  if (y && !computed) backend.addon.maxPool(params.begin().push(...windowParams(w), x.shape[0] * x.shape[1], backend.handle(x), backend.handle(y), -1).block);
  return arg;
}

export const windowKernels: KernelConfig[] = [
  kernel(UNFOLD, ({ inputs, backend, attrs }) => unfold(backend, inputs.x, attrs as UnfoldAttrs)),
  kernel(FOLD, ({ inputs, backend, attrs }) => fold(backend, inputs.cols, attrs as FoldAttrs)),
  kernel(MAX_POOL, ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    const g = (attrs as WindowAttrs).geom;
    const y = backend.makeOutput([x.shape[0], x.shape[1], ...g.outSize], 'float32');
    argmax(backend, x, attrs as WindowAttrs, y);
    return y;
  }),
  kernel(MAX_POOL_JAC_T, ({ inputs, backend, attrs }) => {
    const { x, V } = inputs;
    const g = (attrs as WindowAttrs).geom;
    const w = backend.windows.of(g);
    const arg = argmax(backend, x, attrs as WindowAttrs);
    const y = backend.makeOutput([V.shape[0], x.shape[0], x.shape[1], ...g.inSize], 'float32');
    backend.addon.maxPoolJacT(params.begin().push(...windowParams(w), V.shape[0], x.shape[0] * x.shape[1], backend.handle(arg), backend.handle(V), backend.handle(y)).block);
    return y;
  }),
  kernel(MAX_POOL_JVP, ({ inputs, backend, attrs }) => {
    const { x, V } = inputs;
    const g = (attrs as WindowAttrs).geom;
    const w = backend.windows.of(g);
    const arg = argmax(backend, x, attrs as WindowAttrs);
    const y = backend.makeOutput([x.shape[0], x.shape[1], ...g.outSize], 'float32');
    backend.addon.maxPoolJvp(params.begin().push(...windowParams(w), 1, x.shape[0] * x.shape[1], backend.handle(arg), backend.handle(V), backend.handle(y)).block);
    return y;
  }),
];
