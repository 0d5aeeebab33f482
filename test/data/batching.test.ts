/** Batching over every reader kind: coverage, seeded shuffling, dropLast, normalisation, options. */
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset, type Dataset } from '../../src/data/dataset.ts';
import { rowOrder } from '../../src/data/readers/batching.ts';
import { UsageError } from '../../src/errors/index.ts';
import { encodeNpy } from '../../src/io/npy.ts';
import { cifar, collect, gz, idx, tempDir } from './formats.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const N = 23;
const range = <T = number>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const sorted = (a: number[]) => [...a].sort((p, q) => p - q);

/** One dataset per storage path: streamed file, gzip in memory, strided multi-file, CSV in memory. */
const sets: Record<string, Dataset> = {};
/** Row n's inputs, per dataset. */
const rowOf: Record<string, (n: number) => number[]> = {};

beforeAll(async () => {
  const x = Float32Array.from(range(N * 3, (i) => i * 0.5));
  tmp.file('inputs.npy', encodeNpy({ dtype: 'float32', shape: [N, 3], data: x }));
  tmp.file('targets.npy', encodeNpy({ dtype: 'int64', shape: [N], data: BigInt64Array.from(range(N, (n) => BigInt(n % 5))) }));
  sets.npy = await openDataset(`${tmp.dir}/inputs.npy`);
  rowOf.npy = (n) => range(3, (j) => (n * 3 + j) * 0.5);

  tmp.file('train-images-idx3-ubyte.gz', gz(idx(0x08, [N, 2, 2], range(N * 4, (i) => i % 256))));
  tmp.file('train-labels-idx1-ubyte.gz', gz(idx(0x08, [N], range(N, (n) => n % 10))));
  sets.idx = await openDataset(`${tmp.dir}/train-images-idx3-ubyte.gz`);
  rowOf.idx = (n) => range(4, (j) => (n * 4 + j) % 256);

  const pixel = (n: number, j: number) => (n + j) % 256;
  const a = tmp.file('data_batch_1.bin', cifar(range(10, (n) => [n % 10]), pixel));
  const b = tmp.file('data_batch_2.bin', cifar(range(N - 10, (n) => [(n + 10) % 10]), (n, j) => pixel(n + 10, j)));
  sets.cifar = await openDataset({ path: [a, b] });
  rowOf.cifar = (n) => range(3072, (j) => pixel(n, j));

  tmp.file('t.csv', range(N, (n) => `${n},${-n},${n % 3}`).join('\n'));
  sets.csv = await openDataset(`${tmp.dir}/t.csv`);
  rowOf.csv = (n) => [n, n === 0 ? 0 : -n]; // "-0" is not written, so 0 reads back as +0
});

describe.each(['npy', 'idx', 'cifar', 'csv'])('batches of %s', (kind) => {
  it('cover every row once, in order, without shuffle; the last batch is short', async () => {
    const all = await collect(sets[kind], { batchSize: 5 });
    expect(all.batches.map((b) => b.indices.length)).toEqual([5, 5, 5, 5, 3]);
    expect(all.indices).toEqual(range(N, (n) => n));
    expect(all.inputs).toEqual(all.indices.flatMap(rowOf[kind]));
  });

  it('shuffle: a permutation, rows and targets follow their indices, seeded', async () => {
    const s1 = await collect(sets[kind], { batchSize: 4, shuffle: true, seed: 1 });
    expect(sorted(s1.indices)).toEqual(range(N, (n) => n));
    expect(s1.indices).not.toEqual(range(N, (n) => n));
    expect(s1.inputs).toEqual(s1.indices.flatMap(rowOf[kind]));
    const plain = await collect(sets[kind], { batchSize: N });
    expect(s1.targets).toEqual(s1.indices.map((n) => plain.targets[n]));
    const again = await collect(sets[kind], { batchSize: 7, shuffle: true, seed: 1 });
    expect(again.indices).toEqual(s1.indices);
    const other = await collect(sets[kind], { batchSize: 4, shuffle: true, seed: 2 });
    expect(other.indices).not.toEqual(s1.indices);
  });

  it('dropLast drops the short batch', async () => {
    const all = await collect(sets[kind], { batchSize: 5, shuffle: true, seed: 9, dropLast: true });
    expect(all.batches.map((b) => b.indices.length)).toEqual([5, 5, 5, 5]);
    expect(new Set(all.indices).size).toBe(20);
    const one = await collect(sets[kind], { batchSize: 100, dropLast: true });
    expect(one.batches).toHaveLength(0);
  });
});

describe('row order', () => {
  it('is a Fisher–Yates permutation under mulberry32: same seed same order, default seed 0', () => {
    expect(rowOrder(50, true, 7)).toEqual(rowOrder(50, true, 7));
    expect(rowOrder(50, true, 0)).not.toEqual(rowOrder(50, true, 1));
    expect(sorted(Array.from(rowOrder(50, true, 3)))).toEqual(range(50, (n) => n));
    expect(Array.from(rowOrder(5, false, 3))).toEqual([0, 1, 2, 3, 4]);
  });

  it.runIf(existsSync('/proc/self/fd'))('stopping early (read-ahead in flight) closes the file descriptors', async () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    await collect(sets.cifar, { batchSize: 2 });
    const before = fds();
    for (let k = 0; k < 5; k++) {
      for await (const b of sets.cifar.batches({ batchSize: 2, shuffle: true, seed: k })) if (b.indices.length) break;
    }
    expect(fds()).toBe(before);
  });
});

describe('normalisation', () => {
  it("'unit' divides uint8 pixels by 255", async () => {
    const ds = await openDataset({ path: `${tmp.dir}/train-images-idx3-ubyte.gz`, normalize: 'unit' });
    const all = await collect(ds, { batchSize: 8 });
    expect(all.inputs).toEqual(range(N * 4, (i) => Math.fround((i % 256) / 255)));
  });

  it('{mean, std} per channel: uint8 in units of /255, other types as stored', async () => {
    const mean = [0.5, 0.25, 0];
    const std = [0.5, 2, 1];
    const ds = await openDataset({ path: `${tmp.dir}/data_batch_1.bin`, normalize: { mean, std } });
    const first = (await collect(ds, { batchSize: 1 })).batches[0].inputs.data as Float32Array;
    const want = range(3072, (j) => Math.fround((((1 * 0 + j) % 256) / 255 - mean[Math.floor(j / 1024)]) / std[Math.floor(j / 1024)]));
    expect(Array.from(first)).toEqual(want);
    const csv = await openDataset({ path: `${tmp.dir}/t.csv`, normalize: { mean: [1, 0], std: [2, 4] } });
    const rows = await collect(csv, { batchSize: N });
    expect(rows.inputs.slice(0, 6)).toEqual([-0.5, 0, 0, -0.25, 0.5, -0.5]);
  });

  it.each([
    [{ path: 'inputs.npy', normalize: 'unit' }, "inputs.npy stores float32; use 'none' or {mean, std}"],
    [{ path: 'data_batch_1.bin', normalize: { mean: [0, 0], std: [1, 1] } }, 'normalize.mean has 2 values'],
    [{ path: 'data_batch_1.bin', normalize: { mean: [0], std: [0] } }, 'normalize.std[0] must be a finite number > 0'],
  ] as const)('rejects bad normalize options: %j', async (opts, message) => {
    const err = await openDataset({ ...opts, path: `${tmp.dir}/${opts.path}` } as never).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(message);
  });
});

describe('options', () => {
  it.each([
    [{ batchSize: 0 }, 'batches: batchSize must be a positive integer, got 0'],
    [{ batchSize: 2.5 }, 'batchSize must be a positive integer'],
    [{ batchSize: 2, seed: 0.5 }, 'batches: seed must be an integer'],
    [{ batchSize: 2, shuffle: 'yes' }, 'batches: shuffle must be a boolean'],
  ])('batches(%j) is a UsageError', (opts, message) => {
    expect(() => sets.npy.batches(opts as never)).toThrow(UsageError);
    expect(() => sets.npy.batches(opts as never)).toThrow(message);
  });

  it.each([
    [{ path: 'inputs.npy', label: 'fine' }, "option 'label' does not apply to format 'npy'"],
    [{ path: 'inputs.npy', lable: 'fine' }, "unknown dataset option 'lable'"],
    [{ path: 'inputs.npy', classes: 0 }, 'classes must be a positive integer'],
    [{ path: 'inputs.npy', split: 'test' }, 'split applies when path is a directory'],
    [{ path: 'inputs.npy', format: 'hdf5' }, 'format must be one of'],
    [{ path: 'blob.bin' }, "cannot tell the format of"],
    [{ path: 't.csv', labelColumn: 'nope', header: true }, "labelColumn: no column 'nope'"],
    [{ path: 't.csv', labelColumn: 'a' }, 'has no header row'],
    [{ path: 'data_batch_1.bin', format: 'cifar100', label: 'medium' }, "label must be 'fine' or 'coarse'"],
  ])('openDataset(%j) is a UsageError', async (opts, message) => {
    tmp.file('blob.bin', new Uint8Array(4));
    const err = await openDataset({ ...opts, path: `${tmp.dir}/${opts.path}` } as never).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(message);
  });
});
