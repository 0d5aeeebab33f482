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
}

export class WindowMaps {
  private cache = new Map<string, WindowBuffers>();

  constructor(private addon: NativeAddon) {}

  of(g: WindowGeometry): WindowBuffers {
    const key = JSON.stringify(g);
    let w = this.cache.get(key);
    if (!w) {
      w = { map: this.upload(windowMap(g)), S: prod(g.inSize), K: prod(g.kernel), P: prod(g.outSize) };
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

/** The four leading parameters of every window kernel. */
export const windowParams = (w: WindowBuffers) => [w.map, w.S, w.K, w.P];
