/**
 * The test hook for "host copies only at the edges of a shard": records every host↔device copy a
 * NativeBackend (cuda or native) makes while `f` runs, as JavaScript sees it (the backend's addon
 * calls) and as the device counts it (DeviceCounters, through stats()). On cuda the two must
 * agree: nothing in the device copies to or from the host except upload() and download(). Reads
 * through zero-copy views (the cpu device) are recorded as 'view', not as copies.
 */
import type { NativeAddon } from '../native/addon.ts';

export interface HostTransfer {
  dir: 'up' | 'down' | 'view';
  bytes: number;
}

export interface HostCopyRecord<T> {
  result: T;
  transfers: HostTransfer[];
  /** The device's own counts over the same span. */
  counted: { uploads: number; downloads: number; uploadBytes: number; downloadBytes: number };
}

interface WithAddon {
  addon: NativeAddon;
}

export function recordHostCopies<T>(backend: object, f: () => T): HostCopyRecord<T> {
  const holder = backend as WithAddon;
  const addon = holder.addon;
  const transfers: HostTransfer[] = [];
  // The addon's functions are read-only properties: the backend gets a recording copy instead.
  const source = addon as unknown as Record<string, unknown>;
  const shim: Record<string, unknown> = {};
  for (const key of Object.getOwnPropertyNames(source)) {
    const value = source[key];
    shim[key] = typeof value === 'function' ? value.bind(addon) : value;
  }
  shim.upload = (h: number, data: ArrayBufferView, off?: number) => {
    transfers.push({ dir: 'up', bytes: data.byteLength });
    return addon.upload(h, data, off);
  };
  shim.download = (h: number, into: ArrayBufferView, off?: number) => {
    transfers.push({ dir: 'down', bytes: into.byteLength });
    return addon.download(h, into, off);
  };
  shim.view = (h: number, dtype: number, length: number) => {
    transfers.push({ dir: 'view', bytes: length * (dtype === 2 ? 1 : 4) });
    return addon.view(h, dtype, length);
  };
  const proxy = shim as unknown as NativeAddon;
  const before = addon.stats();
  Object.defineProperty(holder, 'addon', { value: proxy, configurable: true, writable: true });
  try {
    const result = f();
    const after = addon.stats();
    return {
      result,
      transfers,
      counted: {
        uploads: after.uploads - before.uploads,
        downloads: after.downloads - before.downloads,
        uploadBytes: after.uploadBytes - before.uploadBytes,
        downloadBytes: after.downloadBytes - before.downloadBytes,
      },
    };
  } finally {
    Object.defineProperty(holder, 'addon', { value: addon, configurable: true, writable: true });
  }
}
