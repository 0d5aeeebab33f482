/** Malformed files are TensorFileErrors whose message starts with the path and says what is wrong. */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDataset, type DatasetOptions } from '../../src/data/dataset.ts';
import { wrapNpy } from '../../src/data/readers/npy-rows.ts';
import { encodeNpy } from '../../src/io/npy.ts';
import { encodeSafetensors } from '../../src/io/safetensors.ts';
import { cifar, collect, gz, idx, tempDir, zip } from './formats.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const images = idx(0x08, [4, 2, 2], new Array(16).fill(7));
const labels = idx(0x08, [4], [0, 1, 2, 3]);
const npyX = encodeNpy({ dtype: 'float32', shape: [4, 2], data: new Float32Array(8) });
const npyY = encodeNpy({ dtype: 'int64', shape: [4], data: BigInt64Array.from([0n, 1n, 5n, 2n]) });
const st = encodeSafetensors({ x: { dtype: 'float32', shape: [4, 2], data: new Float32Array(8) }, y: { dtype: 'int64', shape: [4], data: new BigInt64Array(4) } });
const corrupt = (b: Uint8Array, at: number, v: number) => {
  const c = b.slice();
  c[at] = v;
  return c;
};
const deflated = zip([
  { name: 'x.npy', data: npyX, deflate: true },
  { name: 'y.npy', data: npyY, deflate: true },
]);

/** [case, files to write (name → bytes), what to open (first file by default), message fragments]. */
type Case = [string, Record<string, Uint8Array | string>, Partial<DatasetOptions> | undefined, string[]];

const cases: Case[] = [
  ['IDX: wrong magic', { 'a-images-idx3-ubyte': corrupt(images, 2, 0x07), 'a-labels-idx1-ubyte': labels }, undefined, ['bad IDX magic 00 00 07 03']],
  ['IDX: magic not starting 00 00', { 'b-images-idx3-ubyte': corrupt(images, 0, 0x1f), 'b-labels-idx1-ubyte': labels }, undefined, ['bad IDX magic 1f']],
  ['IDX: images shorter than the header says', { 'c-images-idx3-ubyte': images.subarray(0, images.length - 1), 'c-labels-idx1-ubyte': labels }, undefined, ['truncated', 'header says [4, 2, 2] of uint8, 32 bytes in all; file has 31']],
  ['IDX: truncated header', { 'd-images-idx3-ubyte': images.subarray(0, 9), 'd-labels-idx1-ubyte': labels }, undefined, ['truncated: the header needs 16 bytes, file has 9']],
  ['IDX: longer than the header says', { 'e-images-idx3-ubyte': new Uint8Array([...images, 0]), 'e-labels-idx1-ubyte': labels }, undefined, ['size mismatch']],
  ['IDX: label count differs', { 'f-images-idx3-ubyte': images, 'f-labels-idx1-ubyte': idx(0x08, [3], [0, 1, 2]) }, { labels: 'f-labels-idx1-ubyte' }, ['3 labels, but', 'has 4 images']],
  ['IDX: label outside declared classes', { 'g-images-idx3-ubyte': images, 'g-labels-idx1-ubyte': labels }, { classes: 3 }, ['row 3: label 3 is not in [0, 3)']],
  ['gzip: not gzip data', { 'h-images-idx3-ubyte.gz': images, 'h-labels-idx1-ubyte.gz': gz(labels) }, undefined, ['bad gzip data', 'incorrect header check']],
  ['gzip: cut short', { 'i-images-idx3-ubyte.gz': gz(images).subarray(0, 20), 'i-labels-idx1-ubyte.gz': gz(labels) }, undefined, ['bad gzip data', 'unexpected end of file']],
  ['CIFAR-10: not a multiple of the row', { 'data_batch_1.bin': cifar([[1], [2]], () => 0).subarray(0, 6000) }, undefined, ['truncated: 6000 bytes is not a multiple of the 3073-byte CIFAR-10 row']],
  ['CIFAR-10: label above 9', { 'test_batch.bin': cifar([[1], [10]], () => 0) }, undefined, ['row 1: label 10 is not in [0, 10) (CIFAR-10 labels)']],
  ['CIFAR-100: fine label above 99', { 'train.bin': cifar([[1, 100]], () => 0) }, undefined, ['row 0: label 100 is not in [0, 100) (CIFAR-100 fine labels)']],
  ['CIFAR-100: coarse label above 19', { 'test.bin': cifar([[20, 3]], () => 0) }, { label: 'coarse' }, ['label 20 is not in [0, 20) (CIFAR-100 coarse labels)']],
  ['CIFAR-100: not a multiple of the row', { 'c100/train.bin': new Uint8Array(3073) }, { format: 'cifar100' }, ['not a multiple of the 3074-byte CIFAR-100 row (2 label bytes']],
  ['npy: data cut short', { 'j.npy': npyX.subarray(0, npyX.length - 4), 'j_y.npy': npyY }, { targets: 'j_y.npy' }, ['truncated: header says 32 bytes of data, file has 28']],
  ['npy: header cut short', { 'k.npy': npyX.subarray(0, 40), 'k_y.npy': npyY }, { targets: 'k_y.npy' }, ['truncated: header says 118 bytes of header']],
  ['npy: bad magic', { 'l.npy': corrupt(npyX, 1, 0x41), 'l_y.npy': npyY }, { targets: 'l_y.npy' }, ['not a .npy file (bad magic)']],
  ['npy: unsupported dtype', { 'm.npy': wrapNpy('<U2', [4, 1], new Uint8Array(32)), 'm_y.npy': npyY }, { targets: 'm_y.npy' }, ["unsupported dtype '<U2'"]],
  ['npy: targets outside declared classes', { 'n.npy': npyX, 'n_y.npy': npyY }, { targets: 'n_y.npy', classes: 5 }, ['row 2: label 5 is not in [0, 5)']],
  ['npy: row counts differ', { 'o.npy': npyX, 'o_y.npy': encodeNpy({ dtype: 'int64', shape: [3], data: new BigInt64Array(3) }) }, { targets: 'o_y.npy' }, ['o_y.npy: 3 rows, but', 'o.npy has 4']],
  ['npz: not a zip', { 'p.npz': npyX }, undefined, ['corrupt zip: no end-of-central-directory record']],
  ['npz: cut short', { 'q.npz': deflated.subarray(0, deflated.length - 30) }, undefined, ['corrupt zip']],
  ['npz: damaged deflate stream', { 'r.npz': corrupt(deflated, 40, 0xff) }, undefined, ["corrupt zip: entry 'x.npy'"]],
  ['npz: damaged local header', { 's.npz': corrupt(deflated, 0, 0) }, undefined, ["entry 'x.npy' local header has a bad signature"]],
  ['npz: directory points past the end', { 't.npz': corrupt(deflated, deflated.length - 5, 0x7f) }, undefined, ['central directory', 'runs past the end of the file']],
  ['npz: missing key', { 'u.npz': zip([{ name: 'a.npy', data: npyX }, { name: 'y.npy', data: npyY }]) }, undefined, ["no array 'inputs' or 'x' for the inputs (arrays: 'a', 'y'); pass keys.inputs"]],
  ['npz: stored entry with truncated npy', { 'v.npz': zip([{ name: 'x.npy', data: npyX.subarray(0, 130) }, { name: 'y.npy', data: npyY }]) }, undefined, ['(x.npy): truncated: header says 32 bytes of data, file has 2']],
  ['safetensors: data cut short', { 'w.safetensors': st.subarray(0, st.length - 10) }, undefined, ["tensor 'y': truncated: data_offsets [32, 64] run past the end"]],
  ['safetensors: header cut short', { 'w2.safetensors': st.subarray(0, 90) }, undefined, ['header length', 'exceeds the file']],
  ['safetensors: missing key', { 'x.safetensors': encodeSafetensors({ x: { dtype: 'float32', shape: [4, 2], data: new Float32Array(8) } }) }, undefined, ["no array 'targets' or 'y'"]],
  ['CSV: non-numeric cell', { 'a.csv': 'f1,f2,label\n1,2,0\n3,abc,1\n' }, undefined, ["line 3 (data row 1), column 2 'f2': 'abc' is not a number"]],
  ['CSV: empty cell, no header', { 'b.csv': '1,2,0\n3,,1\n' }, undefined, ["line 2 (data row 1), column 2: '' is not a number"]],
  ['CSV: ragged row', { 'c.csv': '1,2,0\n3,1\n' }, undefined, ['line 2: 2 columns, expected 3']],
  ['CSV: label outside declared classes', { 'd.csv': '1,0\n2,4\n' }, { classes: 4 }, ['row 1: label 4 is not in [0, 4)']],
];

describe('malformed files', () => {
  it.each(cases)('%s', async (_, files, opts, fragments) => {
    const written = Object.entries(files).map(([name, bytes]) => {
      mkdirSync(dirname(join(tmp.dir, name)), { recursive: true });
      return tmp.file(name, bytes);
    });
    const resolved: Partial<DatasetOptions> = { ...opts };
    for (const k of ['labels', 'targets'] as const) if (typeof resolved[k] === 'string') resolved[k] = join(tmp.dir, resolved[k]);
    // Open and read one pass: some errors surface only when rows are read.
    const err = await openDataset({ path: written[0], ...resolved })
      .then((ds) => collect(ds, { batchSize: 2 }))
      .then(() => undefined, (e: unknown) => e);
    expect(err, 'expected an error').toBeInstanceOf(Error);
    const { name, message } = err as Error;
    expect(name, message).toBe('TensorFileError');
    expect(message.startsWith(tmp.dir), message).toBe(true);
    for (const f of fragments) expect(message).toContain(f);
  });
});

it('a missing file is a TensorFileError naming it', async () => {
  const path = join(tmp.dir, 'absent.npy');
  await expect(openDataset({ path, targets: path })).rejects.toThrow(`${path}: file not found`);
  await expect(openDataset(join(tmp.dir, 'absent-images-idx3-ubyte.gz'))).rejects.toThrow('absent-images-idx3-ubyte.gz: file not found');
});
