/** Each format written small, read back through openDataset, compared value by value. */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../src/data/dataset.ts';
import { wrapNpy } from '../../src/data/readers/npy-rows.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { encodeNpy } from '../../src/io/npy.ts';
import { encodeSafetensors } from '../../src/io/safetensors.ts';
import { cifar, collect, gz, idx, tempDir, zip } from './formats.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const range = <T = number>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const HAS_NUMPY = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

describe('IDX', () => {
  const N = 10;
  const pixels = range(N * 12, (i) => (i * 7) % 256);
  const labels = range(N, (n) => (n * 3) % 10);

  it.each([
    ['plain', (b: Uint8Array) => b, ''],
    ['gzip', gz, '.gz'],
  ])('reads %s images [N, 3, 4] as [1, 3, 4] with class labels', async (_, enc, ext) => {
    const images = tmp.file(`train-images-idx3-ubyte${ext}`, enc(idx(0x08, [N, 3, 4], pixels)));
    tmp.file(`train-labels-idx1-ubyte${ext}`, enc(idx(0x08, [N], labels)));
    const ds = await openDataset(images);
    expect(ds).toMatchObject({ size: N, inputShape: [1, 3, 4], targetShape: [], targetsKind: 'class', classes: 10, name: 'train-images-idx3-ubyte' });
    const all = await collect(ds, { batchSize: 4 });
    expect(all.inputs).toEqual(pixels);
    expect(all.targets).toEqual(labels);
    expect(all.batches[0].inputs.shape).toEqual([4, 1, 3, 4]);
    expect(all.batches[0].targets).toMatchObject({ dtype: 'int64', shape: [4] });
  });

  it('reads a directory (train, and t10k with split test) and big-endian float32 rows [N, D]', async () => {
    const dir = join(tmp.dir, 'mnist');
    mkdirSync(dir);
    const write = (name: string, b: Uint8Array) => tmp.file(join('mnist', name), b);
    write('train-images-idx3-ubyte.gz', gz(idx(0x08, [N, 3, 4], pixels)));
    write('train-labels-idx1-ubyte.gz', gz(idx(0x08, [N], labels)));
    const floats = range(2 * 5, (i) => i / 8 - 0.5);
    write('t10k-images-idx3-ubyte', idx(0x0d, [2, 5], floats));
    write('t10k-labels-idx1-ubyte', idx(0x08, [2], [4, 1]));
    const train = await openDataset(dir);
    expect(train).toMatchObject({ size: N, name: 'mnist-train' });
    const test = await openDataset({ path: dir, split: 'test', classes: 10 });
    expect(test).toMatchObject({ size: 2, inputShape: [5], classes: 10 });
    const all = await collect(test, { batchSize: 8 });
    expect(all.inputs).toEqual(floats);
    expect(all.targets).toEqual([4, 1]);
  });
});

describe('CIFAR', () => {
  const pixel = (n: number, j: number) => (n * 31 + j) % 251;

  it('reads CIFAR-10 batches as [3, 32, 32] CHW, in file order, from a list or a directory', async () => {
    const dir = join(tmp.dir, 'cifar-10-batches-bin');
    mkdirSync(dir);
    const b1 = tmp.file('cifar-10-batches-bin/data_batch_1.bin', cifar([[3], [9], [0]], pixel));
    const b2 = tmp.file('cifar-10-batches-bin/data_batch_2.bin', cifar([[7], [2]], (n, j) => pixel(n + 3, j)));
    tmp.file('cifar-10-batches-bin/test_batch.bin', cifar([[5]], (n, j) => pixel(n + 9, j)));
    for (const ds of [await openDataset({ path: [b1, b2] }), await openDataset(dir)]) {
      expect(ds).toMatchObject({ size: 5, inputShape: [3, 32, 32], classes: 10, targetsKind: 'class' });
      const all = await collect(ds, { batchSize: 2 });
      expect(all.targets).toEqual([3, 9, 0, 7, 2]);
      expect(all.inputs).toEqual(range(5 * 3072, (i) => pixel(Math.floor(i / 3072), i % 3072)));
    }
    const test = await openDataset({ path: dir, split: 'test' });
    expect((await collect(test, { batchSize: 2 })).targets).toEqual([5]);
  });

  it('reads CIFAR-100 fine (default) or coarse labels', async () => {
    const path = tmp.file('train.bin', cifar([[19, 99], [0, 42], [7, 3]], pixel));
    const fine = await openDataset(path);
    expect(fine).toMatchObject({ size: 3, classes: 100 });
    expect((await collect(fine, { batchSize: 3 })).targets).toEqual([99, 42, 3]);
    const coarse = await openDataset({ path, label: 'coarse' });
    expect(coarse.classes).toBe(20);
    const all = await collect(coarse, { batchSize: 3 });
    expect(all.targets).toEqual([19, 0, 7]);
    expect(all.inputs.slice(3072, 3080)).toEqual(range(8, (j) => pixel(1, j)));
  });
});

describe('.npy pairs', () => {
  const N = 6;
  const x = Float32Array.from(range(N * 6, (i) => Math.sin(i)));

  it('streams float32 inputs; int64 targets are classes, float64 targets float', async () => {
    const inputs = tmp.file('inputs.npy', encodeNpy({ dtype: 'float32', shape: [N, 2, 3], data: x }));
    tmp.file('targets.npy', encodeNpy({ dtype: 'int64', shape: [N], data: BigInt64Array.from(range(N, (n) => BigInt(n % 4))) }));
    const ds = await openDataset(inputs);
    expect(ds).toMatchObject({ size: N, inputShape: [2, 3], targetsKind: 'class', classes: 4 });
    const all = await collect(ds, { batchSize: 4 });
    expect(all.inputs).toEqual(Array.from(x));
    expect(all.targets).toEqual(range(N, (n) => n % 4));

    const xs = tmp.file('X_train.npy', encodeNpy({ dtype: 'float32', shape: [N, 6], data: x }));
    const y = Float64Array.from(range(N * 2, (i) => i * 0.25));
    tmp.file('y_train.npy', encodeNpy({ dtype: 'float64', shape: [N, 2], data: y }));
    const reg = await openDataset(xs);
    expect(reg).toMatchObject({ targetsKind: 'float', targetShape: [2], classes: undefined });
    const r = await collect(reg, { batchSize: 5 });
    expect(r.targets).toEqual(Array.from(y));
    expect(r.batches[0].targets).toMatchObject({ dtype: 'float32', shape: [5, 2] });
  });

  it('decodes uint8 and big-endian rows, and Fortran-order arrays (read whole)', async () => {
    const bytes = Uint8Array.from(range(N * 4, (i) => 250 - i));
    const u8 = tmp.file('u8.npy', wrapNpy('|u1', [N, 4], bytes));
    const be = new Uint8Array(N * 4 * 4);
    for (let i = 0; i < N * 4; i++) new DataView(be.buffer).setFloat32(4 * i, i - 3.5, false);
    tmp.file('be.npy', wrapNpy('>f4', [N, 4], be));
    const labels = tmp.file('labels.npy', encodeNpy({ dtype: 'int32', shape: [N], data: Int32Array.from(range(N, (n) => n)) }));
    const a = await collect(await openDataset({ path: u8, targets: labels }), { batchSize: 4 });
    expect(a.inputs).toEqual(Array.from(bytes));
    const b = await collect(await openDataset({ path: join(tmp.dir, 'be.npy'), targets: labels }), { batchSize: 4 });
    expect(b.inputs).toEqual(range(N * 4, (i) => i - 3.5));

    // Fortran order: element (n, j) of a [N, 4] array is stored at j·N + n.
    const f = new Float32Array(N * 4);
    for (let i = 0; i < N * 4; i++) f[(i % 4) * N + Math.floor(i / 4)] = i;
    const dict = `{'descr': '<f4', 'fortran_order': True, 'shape': (${N}, 4), }`;
    const header = dict.padEnd(Math.ceil((dict.length + 11) / 64) * 64 - 11, ' ') + '\n';
    const fbytes = new Uint8Array(10 + header.length + f.byteLength);
    fbytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(fbytes.buffer).setUint16(8, header.length, true);
    for (let i = 0; i < header.length; i++) fbytes[10 + i] = header.charCodeAt(i);
    fbytes.set(new Uint8Array(f.buffer), 10 + header.length);
    const fpath = tmp.file('fortran.npy', fbytes);
    const c = await collect(await openDataset({ path: fpath, targets: labels }), { batchSize: 4, shuffle: true, seed: 3 });
    expect(c.inputs).toEqual(c.indices.flatMap((n) => range(4, (j) => n * 4 + j)));
  });
});

describe('.npz', () => {
  const N = 5;
  const x: HostTensor = { dtype: 'float32', shape: [N, 3], data: Float32Array.from(range(N * 3, (i) => i * 1.5)) };
  const y: HostTensor = { dtype: 'int64', shape: [N], data: BigInt64Array.from(range(N, (n) => BigInt(4 - n))) };

  it.each([false, true])('reads stored and deflated entries (deflate %s), default and custom keys', async (deflate) => {
    const path = tmp.file(`d${deflate}.npz`, zip([
      { name: 'x.npy', data: encodeNpy(x), deflate },
      { name: 'y.npy', data: encodeNpy(y), deflate },
      { name: 'extra.npy', data: encodeNpy(y), deflate },
    ]));
    const all = await collect(await openDataset(path), { batchSize: 2 });
    expect(all.inputs).toEqual(Array.from(x.data as Float32Array));
    expect(all.targets).toEqual([4, 3, 2, 1, 0]);
    const custom = await openDataset({ path, keys: { targets: 'extra' } });
    expect((await collect(custom, { batchSize: 9 })).targets).toEqual([4, 3, 2, 1, 0]);
  });

  it.runIf(HAS_NUMPY)('reads what numpy writes (np.savez: zip64 local headers; np.savez_compressed)', async () => {
    const script = `
import numpy as np, sys
x = (np.arange(4 * 2 * 3) % 256).astype(np.uint8).reshape(4, 2, 3)
y = np.array([3, 1, 2, 0], dtype=np.int64)
np.savez(sys.argv[1] + '/np_plain.npz', inputs=x, targets=y)
np.savez_compressed(sys.argv[1] + '/np_comp.npz', x=x, y=y.astype(np.float32))
`;
    const r = spawnSync('python3', ['-c', script, tmp.dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const plain = await openDataset({ path: join(tmp.dir, 'np_plain.npz'), normalize: 'unit' });
    expect(plain).toMatchObject({ size: 4, inputShape: [2, 3], targetsKind: 'class' });
    const a = await collect(plain, { batchSize: 3 });
    expect(a.inputs).toEqual(range(24, (i) => Math.fround(i / 255)));
    expect(a.targets).toEqual([3, 1, 2, 0]);
    const comp = await collect(await openDataset(join(tmp.dir, 'np_comp.npz')), { batchSize: 3 });
    expect(comp.inputs).toEqual(range(24, (i) => i));
    expect(comp.targets).toEqual([3, 1, 2, 0]);
  });
});

describe('.safetensors', () => {
  it('reads inputs and targets by key (default and custom)', async () => {
    const N = 4;
    const images: HostTensor = { dtype: 'float64', shape: [N, 2, 2], data: Float64Array.from(range(N * 4, (i) => i / 3)) };
    const labels: HostTensor = { dtype: 'int32', shape: [N], data: Int32Array.from([1, 0, 1, 2]) };
    const a = tmp.file('a.safetensors', encodeSafetensors({ x: images, y: labels }));
    const b = tmp.file('b.safetensors', encodeSafetensors({ images, labels }, { note: 'keys' }));
    for (const ds of [await openDataset(a), await openDataset({ path: b, keys: { inputs: 'images', targets: 'labels' } })]) {
      expect(ds).toMatchObject({ size: N, inputShape: [2, 2], classes: 3, targetsKind: 'class' });
      const all = await collect(ds, { batchSize: 3, shuffle: true, seed: 5 });
      expect(all.inputs).toEqual(all.indices.flatMap((n) => range(4, (j) => Math.fround((n * 4 + j) / 3))));
      expect(all.targets).toEqual(all.indices.map((n) => [1, 0, 1, 2][n]));
    }
  });
});

describe('CSV', () => {
  it('detects a header; label column by name; integer labels are classes', async () => {
    const path = tmp.file('iris.csv', 'sepal,label,petal\n1.5,2,3\n-2,0,4e-1\r\n 0.5 ,1,"7"\n\n');
    const ds = await openDataset({ path, labelColumn: 'label' });
    expect(ds).toMatchObject({ size: 3, inputShape: [2], targetsKind: 'class', classes: 3 });
    const all = await collect(ds, { batchSize: 2 });
    expect(all.inputs).toEqual([1.5, 3, -2, Math.fround(0.4), 0.5, 7]);
    expect(all.targets).toEqual([2, 0, 1]);
  });

  it('without a header: last column by default, float labels give targets [B, 1]; index and delimiter options', async () => {
    const path = tmp.file('reg.csv', '1,2,0.5\n3,4,-1\n');
    const ds = await openDataset(path);
    expect(ds).toMatchObject({ size: 2, inputShape: [2], targetsKind: 'float', targetShape: [1] });
    const all = await collect(ds, { batchSize: 2 });
    expect(all.inputs).toEqual([1, 2, 3, 4]);
    expect(all.targets).toEqual([0.5, -1]);
    expect(all.batches[0].targets.shape).toEqual([2, 1]);
    const semi = tmp.file('semi.csv', '7;1;2\n8;3;4\n');
    const first = await openDataset({ path: semi, delimiter: ';', labelColumn: 0, targetsKind: 'float' });
    const f = await collect(first, { batchSize: 5 });
    expect(first.targetsKind).toBe('float');
    expect(f.inputs).toEqual([1, 2, 3, 4]);
    expect(f.targets).toEqual([7, 8]);
  });
});
