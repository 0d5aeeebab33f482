/**
 * The `native` tfjs backend: tensor data lives in the native addon's device memory (host memory
 * from a caching allocator on the cpu device; GPU memory on cuda), named by buffer handles. Every
 * op the engine and its oracles call is a registered kernel (kernels/); an op without one fails
 * with tfjs's "Kernel 'X' not registered for backend 'native'", never with a silent host fallback.
 *
 * Reads: on the cpu device a large tensor is read without a copy, as a typed array over its own
 * buffer (the buffer stays alive while that array is reachable), so results leave a shard without
 * touching fresh memory; small reads and GPU reads copy out.
 */
import type { BackendValues, DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../../core/tf.ts';
import type { NativeAddon } from './addon.ts';
import { params } from './params.ts';
import { WindowMaps } from './window-maps.ts';

const { engine, KernelBackend, util } = tf;

export const DTYPE_CODES: Partial<Record<DataType, number>> = { float32: 0, int32: 1, bool: 2 };

/** Bytes per element as stored natively (bool: one byte, as tfjs's Uint8Array). */
const ELEMENT_BYTES: Partial<Record<DataType, number>> = { float32: 4, int32: 4, bool: 1 };

/** Reads below this many bytes copy into a fresh array: cheaper than a view's bookkeeping. */
const VIEW_MIN_BYTES = 1 << 18;

interface DataRecord {
  handle: number;
  dtype: DataType;
  size: number;
  refCount: number;
}

export class NativeBackend extends KernelBackend {
  private records = new WeakMap<DataId, DataRecord>();
  /** Tensors computed from another one (e.g. a max pool's argmax), freed with it. */
  private derived = new WeakMap<DataId, Map<string, TensorInfo>>();
  private count = 0;
  readonly hostAddressable: boolean;
  /** Index maps of the window geometries seen so far, as device buffers. */
  readonly windows: WindowMaps;

  constructor(
    readonly addon: NativeAddon,
    readonly device: { kind: string; description: string; threads: number },
  ) {
    super();
    this.hostAddressable = device.kind === 'cpu';
    this.windows = new WindowMaps(addon);
  }

  static dtypeCode(dtype: DataType): number {
    const code = DTYPE_CODES[dtype];
    if (code === undefined) throw new Error(`the native backend has no ${dtype} tensors (float32, int32 and bool only)`);
    return code;
  }

  private allocate(dtype: DataType, size: number): number {
    return this.addon.alloc(Math.max(1, size) * ELEMENT_BYTES[dtype]!);
  }

  /** The record of a tensor's data, moving it here first if it lives on another backend. */
  private record(dataId: DataId): DataRecord {
    let r = this.records.get(dataId);
    if (!r) {
      engine().moveData(this, dataId);
      r = this.records.get(dataId);
      if (!r) throw new Error('native backend: unknown tensor data');
    }
    return r;
  }

  /** The buffer handle of a tensor (for kernel parameters). */
  handle(t: TensorInfo): number {
    return this.record(t.dataId).handle;
  }

  /** A new tensor of this backend, uninitialised. */
  makeOutput(shape: number[], dtype: DataType): TensorInfo {
    NativeBackend.dtypeCode(dtype);
    const dataId = {};
    this.records.set(dataId, { handle: this.allocate(dtype, util.sizeFromShape(shape)), dtype, size: util.sizeFromShape(shape), refCount: 1 });
    this.count++;
    return { dataId, shape, dtype };
  }

  /** A new tensor sharing `t`'s data (reshape, identity). */
  alias(t: TensorInfo, shape: number[]): TensorInfo {
    this.incRef(t.dataId);
    return { dataId: t.dataId, shape, dtype: t.dtype };
  }

  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = {};
    this.move(dataId, values, shape, dtype, 1);
    return dataId;
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    NativeBackend.dtypeCode(dtype);
    const size = util.sizeFromShape(shape);
    const handle = this.allocate(dtype, size);
    if (values != null && size > 0) {
      const typed = dtype === 'bool' && !(values instanceof Uint8Array) ? Uint8Array.from(values as ArrayLike<number>) : (values as ArrayBufferView);
      this.addon.upload(handle, typed);
    }
    this.records.set(dataId, { handle, dtype, size, refCount });
    this.count++;
  }

  override readSync(dataId: DataId): BackendValues {
    const r = this.record(dataId);
    const bytes = r.size * ELEMENT_BYTES[r.dtype]!;
    if (this.hostAddressable && bytes >= VIEW_MIN_BYTES) return this.addon.view(r.handle, DTYPE_CODES[r.dtype]!, r.size);
    const out = r.dtype === 'float32' ? new Float32Array(r.size) : r.dtype === 'int32' ? new Int32Array(r.size) : new Uint8Array(r.size);
    if (r.size > 0) this.addon.download(r.handle, out);
    return out;
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    return this.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const r = this.records.get(dataId);
    if (!r) return true;
    r.refCount--;
    if (!force && r.refCount > 0) return false;
    this.addon.free(r.handle);
    this.records.delete(dataId);
    this.count--;
    const derived = this.derived.get(dataId);
    if (derived) {
      this.derived.delete(dataId);
      for (const t of derived.values()) this.disposeData(t.dataId, true);
    }
    return true;
  }

  /** `make()` computed once per source tensor and key, kept until the source is freed. */
  derivedOf(source: TensorInfo, key: string, make: () => TensorInfo): TensorInfo {
    let m = this.derived.get(source.dataId);
    if (!m) this.derived.set(source.dataId, (m = new Map()));
    let t = m.get(key);
    if (!t) m.set(key, (t = make()));
    return t;
  }

  override incRef(dataId: DataId): void {
    this.record(dataId).refCount++;
  }

  override refCount(dataId: DataId): number {
    return this.records.get(dataId)?.refCount ?? 0;
  }

  override numDataIds(): number {
    return this.count;
  }

  override memory(): { unreliable: boolean; reasons?: string[] } {
    const s = this.addon.stats();
    return { unreliable: false, ...s } as { unreliable: boolean };
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  override timerAvailable(): boolean {
    return true;
  }

  override async time(f: () => void): Promise<{ kernelMs: number }> {
    const t0 = performance.now();
    f();
    return { kernelMs: performance.now() - t0 };
  }

  override dispose(): void {}

  /** Fills a tensor with one value. */
  fill(t: TensorInfo, value: number): void {
    this.addon.fill(params.begin().push(this.handle(t), NativeBackend.dtypeCode(t.dtype), util.sizeFromShape(t.shape), value).block);
  }
}
