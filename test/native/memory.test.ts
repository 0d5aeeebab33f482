/**
 * The native allocator and its handles: a tidy over every kernel family leaves tfjs's tensor count,
 * the backend's data records and the addon's live buffers where they started (derived tensors
 * such as a max pool's argmax included), and a dataSync() result stays valid after its tensor is
 * disposed, even when its memory would be handed out again. A released view's ArrayBuffer serves
 * the next view of the same memory (no new external memory for V8 to collect) and is detached
 * before that memory goes back to the system, so no array ever reaches freed memory.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect, it } from 'vitest';
import { tf } from '../../src/core/tf.ts';
import { CONV_FORWARD, CONV_INPUT_JAC_T, CONV_WEIGHT_GRAD, CONV_WEIGHT_SQUARES, FOLD, MAX_POOL, MAX_POOL_JAC_T, MAX_POOL_JVP, UNFOLD } from '../../src/core/ops/kernel-names.ts';
import { windowGeometry } from '../../src/nn/geometry.ts';
import { call } from './cases/shape.ts';
import { releaseHostData } from '../../src/io/host-tensor.ts';
import { describeNative, nativeBackend } from './harness.ts';

const geom = windowGeometry([6, 6], [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], 'memory');

/** One use of every kernel family; returns nothing, so a tidy frees everything it made. */
function workload(): void {
  const x = tf.randomNormal([2, 4, 6, 6], 0, 1, 'float32', 1);
  const a = tf.relu(x.add(1).mul(x)).sum([1, 2]);
  tf.argMax(a, 1);
  tf.cast(a, 'int32').add(tf.scalar(2, 'int32'));
  tf.matMul(x.reshape([8, 36]), x.reshape([8, 36]), false, true);
  const parts = tf.split(x.transpose([0, 2, 3, 1]), 2, 1);
  tf.concat(parts, 2).stridedSlice([0, 0, 0, 0], [2, 3, 12, 4], [1, 1, 2, 1]);
  tf.unstack(x, 1);
  tf.gather(x, tf.tensor1d([1, 0], 'int32'), 1);
  tf.softmax(x.reshape([8, 36]));
  tf.where(x.greater(0), x, tf.zerosLike(x));
  const pooled = call(MAX_POOL, { x }, { geom }) as tf.Tensor;
  call(MAX_POOL_JAC_T, { x, V: tf.onesLike(pooled).expandDims(0) }, { geom });
  call(MAX_POOL_JVP, { x, V: tf.onesLike(x) }, { geom });
  const cols = call(UNFOLD, { x }, { geom, layout: 'columns', groups: 1 }) as tf.Tensor;
  call(FOLD, { cols }, { geom, layout: 'columns', channels: 4, batch: 2 });
  const W = tf.randomNormal([6, 4, 3, 3], 0, 1, 'float32', 2);
  const y = call(CONV_FORWARD, { x, W }, { geom, groups: 1 }) as tf.Tensor;
  call(CONV_INPUT_JAC_T, { V: y, W }, { geom, groups: 1 });
  call(CONV_WEIGHT_GRAD, { x, V: y.expandDims(0) }, { geom, groups: 1 });
  call(CONV_WEIGHT_SQUARES, { x, V: y.expandDims(0) }, { geom, groups: 1, mode: 'norms' });
}

const counts = () => ({ tensors: tf.memory().numTensors, records: nativeBackend().numDataIds(), buffers: nativeBackend().addon.stats().buffers });

/** A full collection, so that typed arrays over native buffers are finalised. */
function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

describeNative('native allocator and handles', () => {
  it('a tidy over every kernel family frees every tensor, record and buffer it made', async () => {
    await tf.setBackend('native');
    tf.tidy(workload); // first run: window maps are built and kept (one buffer per geometry, by design)
    const before = counts();
    tf.tidy(workload);
    expect(counts()).toEqual(before);
    const kept = tf.tidy(() => tf.add(tf.ones([3]), 1));
    expect(counts().buffers).toBe(before.buffers + 1);
    kept.dispose();
    expect(counts()).toEqual(before);
  });

  it('a dataSync() view stays valid after its tensor is disposed, then its buffer is freed', async () => {
    await tf.setBackend('native');
    const gc = collectGarbage();
    const before = counts();
    const n = 1 << 18; // 1 MiB of float32: read as a view over the native buffer, not a copy
    for (const [dtype, value] of [['float32', 2.5], ['int32', -7], ['bool', 1]] as [tf.DataType, number][]) {
      const t = tf.fill([n], value, dtype);
      let data: ArrayLike<number> | null = t.dataSync();
      t.dispose();
      expect(counts().buffers, 'the view keeps its buffer alive').toBe(before.buffers + 1);
      // Same-sized allocations would be handed the freed block if the view did not hold it.
      const others = Array.from({ length: 3 }, () => tf.fill([n], 1, dtype));
      expect(data[0]).toBe(value);
      expect(data[n - 1]).toBe(value);
      expect(Array.prototype.every.call(data, (v: number) => v === value)).toBe(true);
      others.forEach((o) => o.dispose());
      data = null;
      for (let i = 0; i < 20 && counts().buffers !== before.buffers; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(counts(), 'the buffer is freed once the view is collected').toEqual(before);
    }
  });

  it('a released view lends its ArrayBuffer to the next view of the same block, with that view\'s values', async () => {
    await tf.setBackend('native');
    const addon = nativeBackend().addon;
    const n = 1 << 18;
    const before = counts();
    const first = tf.fill([n], 1.5);
    const a = first.dataSync() as Float32Array;
    first.dispose();
    expect(addon.release(a)).toBe(true);
    expect(counts(), 'released: the block is back in the cache').toEqual(before);
    expect(addon.isView(a)).toBe(false);
    // The cache hands the same block to the next tensor of this size.
    const second = tf.fill([n], -4);
    const b = second.dataSync() as Float32Array;
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(n);
    expect(b[0]).toBe(-4);
    expect(b[n - 1]).toBe(-4);
    expect(addon.isView(b)).toBe(true);
    // A shorter view of a block whose parked buffer is long enough reuses it too.
    second.dispose();
    releaseHostData(b);
    const third = tf.fill([n - 100], 3);
    const c = third.dataSync() as Float32Array;
    expect(c.length).toBe(n - 100);
    expect(c[n - 101]).toBe(3);
    third.dispose();
    releaseHostData(c);
    expect(counts()).toEqual(before);
  });

  it('a parked ArrayBuffer is detached before its block is freed, and the next view is new', async () => {
    await tf.setBackend('native');
    const addon = nativeBackend().addon;
    const n = 1 << 18;
    const t = tf.fill([n], 7);
    const a = t.dataSync() as Float32Array;
    t.dispose();
    expect(addon.release(a)).toBe(true);
    expect(a.length, 'parked: still attached').toBe(n);
    addon.setCacheLimit(0); // frees every cached block: the parked buffer must be detached first
    try {
      expect(a.length).toBe(0);
      expect(a.buffer.byteLength).toBe(0);
      const u = tf.fill([n], 8);
      const b = u.dataSync() as Float32Array;
      expect(b.buffer).not.toBe(a.buffer);
      expect(b[n - 1]).toBe(8);
      u.dispose();
      releaseHostData(b);
    } finally {
      addon.setCacheLimit(1 << 30);
    }
  });

  it('a small dataSync() result is a copy that outlives its tensor', async () => {
    await tf.setBackend('native');
    const before = counts();
    const t = tf.tensor1d([1, 2, 3]);
    const data = t.dataSync();
    t.dispose();
    tf.tensor1d([9, 9, 9]).dispose();
    expect(Array.from(data)).toEqual([1, 2, 3]);
    expect(counts()).toEqual(before);
  });
});
