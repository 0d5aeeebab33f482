/**
 * Index maps of sliding windows as device buffers, built once per geometry and kept for the life
 * of the backend (a few KB each): map [K, P] (window-index.ts).
 */
import type { WindowGeometry } from '../../nn/geometry.ts';
import { windowMap } from '../../core/ops/window-index.ts';
import { prod } from '../../nn/geometry.ts';
import type { NativeAddon } from './addon.ts';

export interface WindowBuffers {
  map: number;
  S: number;
  K: number;
  P: number;
  geom: WindowGeometry;
}

export class WindowMaps {
  private cache = new Map<string, WindowBuffers>();

  constructor(private addon: NativeAddon) {}

  of(g: WindowGeometry): WindowBuffers {
    const key = JSON.stringify(g);
    let w = this.cache.get(key);
    if (!w) {
      w = { map: this.upload(windowMap(g)), S: prod(g.inSize), K: prod(g.kernel), P: prod(g.outSize), geom: g };
      this.cache.set(key, w);
    }
    return w;
  }

  private upload(data: Int32Array): number {
    const h = this.addon.alloc(Math.max(4, data.byteLength));
    this.addon.upload(h, data);
    return h;
  }
}

/** The leading parameters of every window kernel: map, S, K, P, then the geometry (nd, in, kernel, stride, dilation, padLo, out). */
export const windowParams = (w: WindowBuffers) => {
  const g = w.geom;
  return [w.map, w.S, w.K, w.P, g.inSize.length, ...g.inSize, ...g.kernel, ...g.stride, ...g.dilation, ...g.padLo, ...g.outSize];
};
