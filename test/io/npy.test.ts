import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TensorFileError } from '../../src/errors/index.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { encodeNpy, parseNpy } from '../../src/io/npy.ts';
import { readTensorFile, writeNpyFile } from '../../src/io/tensor-file.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// CI clones the repo next to shared/, so the fixtures are at <repo>/../shared.
const FIXTURES = process.env.BACKPACK_FIXTURES ?? path.resolve(here, '../../../shared/fixtures/backpack');
const HAS_FIXTURES = existsSync(FIXTURES);
const HAS_NUMPY = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

/** Runs a python3 script (argv[1] = dir) and returns its stdout parsed as JSON. */
function python(script: string, dir: string): any {
  const r = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.error ?? r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Values as strings, so int64 beyond 2^53 compares exactly (python side: str(int) / repr(float)). */
const strings = (t: HostTensor) => Array.from(t.data as ArrayLike<number | bigint>, (v) => String(v));
const numbers = (t: HostTensor) => Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));

/** A .npy v1.0 file with a hand-written header dict, for the cases numpy would not write. */
function npyWith(dict: string, data: Uint8Array = new Uint8Array(), magic = '\x93NUMPY', version = [1, 0]): Uint8Array {
  const header = dict.padEnd(Math.ceil((dict.length + 11) / 64) * 64 - 11, ' ') + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  for (let i = 0; i < 6; i++) out[i] = magic.charCodeAt(i);
  out.set(version, 6);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, 10 + header.length);
  return out;
}

function expectTensorFileError(fn: () => unknown, fragment: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TensorFileError);
  expect((err as Error).message).toContain(fragment);
}

const SAMPLES: HostTensor[] = [
  { dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, -1.5, 3.25, 1e-8, -0, 65504]) },
  { dtype: 'float64', shape: [2, 1, 2], data: Float64Array.from([Math.PI, -1e300, 5e-324, 0.1]) },
  { dtype: 'int32', shape: [4], data: Int32Array.from([0, -1, 2147483647, -2147483648]) },
  { dtype: 'int64', shape: [3], data: BigInt64Array.from([0n, -(2n ** 63n), 2n ** 62n + 1n]) },
  { dtype: 'float64', shape: [], data: Float64Array.from([42]) },
  { dtype: 'int32', shape: [0, 3], data: new Int32Array(0) },
];

describe('npy round trip', () => {
  it.each(SAMPLES.map((t) => [`${t.dtype} [${t.shape}]`, t] as const))('%s', (_, t) => {
    const bytes = encodeNpy(t);
    const headerEnd = 10 + new DataView(bytes.buffer).getUint16(8, true);
    expect(headerEnd % 64).toBe(0); // data 64-byte aligned, like numpy writes it
    const back = parseNpy(bytes, 'x.npy');
    expect(back.dtype).toBe(t.dtype);
    expect(back.shape).toEqual(t.shape);
    expect(back.data.constructor).toBe(t.data.constructor);
    expect(strings(back)).toEqual(strings(t));
  });

  it('reads from an unaligned offset inside a larger buffer', () => {
    const bytes = encodeNpy(SAMPLES[1]);
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect(strings(parseNpy(big.subarray(3), 'x.npy'))).toEqual(strings(SAMPLES[1]));
  });

  it('rejects data that does not match the shape', () => {
    expectTensorFileError(
      () => encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }),
      'needs 4 elements, data has 3',
    );
    expectTensorFileError(() => encodeNpy({ dtype: 'float64', shape: [1], data: new Float32Array(1) }), 'dtype float64');
  });
});

describe('npy hand-made files', () => {
  it('big-endian >f8 and >i8 are byte-swapped', () => {
    const f = new Uint8Array(16);
    new DataView(f.buffer).setFloat64(0, 1.5, false);
    new DataView(f.buffer).setFloat64(8, -2.25, false);
    const t = parseNpy(npyWith("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", f), 'be.npy');
    expect(t.dtype).toBe('float64');
    expect(Array.from(t.data as Float64Array)).toEqual([1.5, -2.25]);

    const i = new Uint8Array(8);
    new DataView(i.buffer).setBigInt64(0, -(2n ** 40n) - 7n, false);
    const ti = parseNpy(npyWith("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", i), 'be.npy');
    expect(Array.from(ti.data as BigInt64Array)).toEqual([-(2n ** 40n) - 7n]);
  });

  it('fortran_order: True is transposed to C order', () => {
    // C-order matrix [[0,1,2],[3,4,5]] stored column by column.
    const data = new Uint8Array(Int32Array.from([0, 3, 1, 4, 2, 5]).buffer);
    const t = parseNpy(npyWith("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", data), 'f.npy');
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data as Int32Array)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('accepts Python 2 style long shapes (3L,)', () => {
    const t = parseNpy(npyWith("{'descr': '|u1', 'fortran_order': False, 'shape': (3L,), }", Uint8Array.from([1, 2, 255])), 'p.npy');
    expect(t.dtype).toBe('int32');
    expect(Array.from(t.data as Int32Array)).toEqual([1, 2, 255]);
  });
});

describe('npy malformed files', () => {
  const f8 = (n: number) => encodeNpy({ dtype: 'float64', shape: [n], data: new Float64Array(n) });

  it('truncated data', () => {
    const bytes = f8(60);
    const headerEnd = bytes.length - 480;
    expectTensorFileError(
      () => parseNpy(bytes.subarray(0, headerEnd + 312), 'inputs.npy'),
      'inputs.npy: truncated: header says 480 bytes of data, file has 312',
    );
  });

  it('truncated header', () => {
    expectTensorFileError(() => parseNpy(f8(2).subarray(0, 40), 'h.npy'), 'h.npy: truncated');
  });

  it('extra bytes after the data', () => {
    const bytes = f8(2);
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    expectTensorFileError(() => parseNpy(longer, 'x.npy'), 'x.npy: size mismatch: header says 16 bytes of data, file has 24');
  });

  it('bad magic', () => {
    expectTensorFileError(() => parseNpy(new TextEncoder().encode('PK\x03\x04 not numpy'), 'z.npy'), 'z.npy: not a .npy file (bad magic)');
    expectTensorFileError(() => parseNpy(npyWith("{}", undefined, '\x93NUMPX'), 'z.npy'), 'bad magic');
  });

  it('unsupported version', () => {
    expectTensorFileError(
      () => parseNpy(npyWith("{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }", undefined, undefined, [9, 0]), 'v.npy'),
      'v.npy: unsupported .npy format version 9.0',
    );
  });

  it('unsupported dtype is named', () => {
    expectTensorFileError(
      () => parseNpy(npyWith("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(16)), 'c.npy'),
      "c.npy: unsupported dtype '<c16'",
    );
    expectTensorFileError(
      () => parseNpy(npyWith("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 's.npy'),
      's.npy: unsupported dtype',
    );
  });

  it('malformed header dict', () => {
    expectTensorFileError(() => parseNpy(npyWith("{'descr': '<f8', 'shape': (2,"), 'm.npy'), 'm.npy: malformed .npy header');
    expectTensorFileError(() => parseNpy(npyWith("{'descr': '<f8', 'shape': (2,), }"), 'm.npy'), "missing 'fortran_order'");
    expectTensorFileError(
      () => parseNpy(npyWith("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }"), 'm.npy'),
      'm.npy: invalid shape [-2]',
    );
    expectTensorFileError(() => parseNpy(npyWith("[1, 2]"), 'm.npy'), 'not a dict');
  });
});

describe('tensor-file with .npy', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'npy-file-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writeNpyFile creates parent dirs and readTensorFile reads it back', async () => {
    const file = path.join(dir, 'a', 'b', 't.npy');
    await writeNpyFile(file, SAMPLES[0]);
    const t = await readTensorFile(file);
    expect(t.shape).toEqual([2, 3]);
    expect(strings(t)).toEqual(strings(SAMPLES[0]));
    expect(readdirSync(path.dirname(file))).toEqual(['t.npy']); // no temp file left behind
  });

  it('missing file and unknown extension', async () => {
    const missing = path.join(dir, 'nope.npy');
    await expect(readTensorFile(missing)).rejects.toThrow(TensorFileError);
    await expect(readTensorFile(missing)).rejects.toThrow(`${missing}: file not found`);
    await expect(readTensorFile(path.join(dir, 'x.csv'))).rejects.toThrow(/unknown tensor file extension '\.csv'/);
  });
});

describe.skipIf(!HAS_NUMPY)('npy against numpy', () => {
  let dir: string;
  let expected: Record<string, { shape: number[]; values: string[] }>;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'npy-numpy-'));
    expected = python(
      `
import json, sys, numpy as np
d = sys.argv[1]
r = np.random.default_rng(0)
arrs = {
  'f4': r.standard_normal((3, 4)).astype('<f4'), 'f8': r.standard_normal((2, 3, 2)),
  'i4': r.integers(-2**31, 2**31, (5,), dtype='<i4'), 'i8': np.array([0, -2**63, 2**63 - 1, 2**53 + 1], '<i8'),
  'be_f4': r.standard_normal((4,)).astype('>f4'), 'be_f8': r.standard_normal((2, 2)).astype('>f8'),
  'be_i4': np.arange(-3, 3, dtype='>i4'), 'be_i8': np.array([2**60 + 3, -5], '>i8'),
  'u1': np.array([0, 7, 255], '|u1'), 'i1': np.array([-128, 0, 127], '|i1'),
  'i2': np.array([-32768, 1, 32767], '<i2'), 'u2': np.array([0, 65535], '<u2'),
  'u4': np.array([0, 2**32 - 1], '<u4'), 'b1': np.array([True, False, True]),
  'f2': np.array([0.5, -2, 65504, 6e-8, 1e-3], '<f2'),
  'fortran3d': np.asfortranarray(r.standard_normal((2, 3, 4))),
  'fortran_i8': np.asfortranarray(np.arange(12, dtype='<i8').reshape(3, 4)),
  'scalar': np.array(2.5), 'empty': np.zeros((0, 3)),
}
out = {}
def strs(a):
  return [repr(float(x)) if a.dtype.kind == 'f' else str(int(x)) for x in a.ravel(order='C').tolist()]
for k, a in arrs.items():
  np.save(f'{d}/{k}.npy', a)
  out[k] = {'shape': list(a.shape), 'values': strs(a)}
a = r.standard_normal((3, 2))
for v in [(2, 0), (3, 0)]:
  with open(f'{d}/v{v[0]}.npy', 'wb') as f:
    np.lib.format.write_array(f, a, version=v)
  out[f'v{v[0]}'] = {'shape': [3, 2], 'values': strs(a)}
print(json.dumps(out))
`,
      dir,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const DTYPES: Record<string, string> = {
    f4: 'float32', f8: 'float64', i4: 'int32', i8: 'int64', be_f4: 'float32', be_f8: 'float64', be_i4: 'int32',
    be_i8: 'int64', u1: 'int32', i1: 'int32', i2: 'int32', u2: 'int32', u4: 'int64', b1: 'int32', f2: 'float32',
    fortran3d: 'float64', fortran_i8: 'int64', scalar: 'float64', empty: 'float64', v2: 'float64', v3: 'float64',
  };

  it.each(Object.entries(DTYPES))('%s -> %s', (name, dtype) => {
    const t = parseNpy(readFileSync(path.join(dir, `${name}.npy`)), `${name}.npy`);
    const want = expected[name];
    expect(t.dtype).toBe(dtype);
    expect(t.shape).toEqual(want.shape);
    if (dtype.startsWith('float')) expect(numbers(t)).toEqual(want.values.map(Number));
    else expect(strings(t)).toEqual(want.values);
  });

  it('numpy reads what encodeNpy writes', () => {
    for (const [i, t] of SAMPLES.entries()) writeFileSync(path.join(dir, `ours${i}.npy`), encodeNpy(t));
    const got = python(
      `
import json, sys, numpy as np
d = sys.argv[1]
out = []
for i in range(${SAMPLES.length}):
  a = np.load(f'{d}/ours{i}.npy')
  out.append({'dtype': a.dtype.str, 'shape': list(a.shape),
              'values': [repr(float(x)) if a.dtype.kind == 'f' else str(int(x)) for x in a.ravel().tolist()]})
print(json.dumps(out))
`,
      dir,
    );
    for (const [i, t] of SAMPLES.entries()) {
      expect(got[i].dtype).toBe({ float32: '<f4', float64: '<f8', int32: '<i4', int64: '<i8' }[t.dtype]);
      expect(got[i].shape).toEqual(t.shape);
      if (t.dtype.startsWith('float')) expect(got[i].values.map(Number)).toEqual(numbers(t));
      else expect(got[i].values).toEqual(strings(t));
    }
  });
});

describe.skipIf(!HAS_FIXTURES)('reference fixtures (.npy)', () => {
  const cases = HAS_FIXTURES
    ? readdirSync(FIXTURES, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
    : [];

  it.each(cases)('%s: inputs float64, targets match the batch size', async (c) => {
    const inputs = await readTensorFile(path.join(FIXTURES, c, 'inputs.npy'));
    const targets = await readTensorFile(path.join(FIXTURES, c, 'targets.npy'));
    expect(inputs.dtype).toBe('float64');
    expect(['int64', 'float64']).toContain(targets.dtype);
    expect(targets.shape[0]).toBe(inputs.shape[0]);
    expect(numbers(inputs).every(Number.isFinite)).toBe(true);
  });

  it.skipIf(!HAS_NUMPY).each(cases)('%s: values equal what numpy reads', async (c) => {
    const want = python(
      `
import json, sys, numpy as np
out = {}
for n in ['inputs', 'targets']:
  a = np.load(f'{sys.argv[1]}/{n}.npy')
  out[n] = {'dtype': a.dtype.str, 'shape': list(a.shape),
            'values': [repr(float(x)) if a.dtype.kind == 'f' else str(int(x)) for x in a.ravel().tolist()]}
print(json.dumps(out))
`,
      path.join(FIXTURES, c),
    );
    for (const n of ['inputs', 'targets']) {
      const t = await readTensorFile(path.join(FIXTURES, c, `${n}.npy`));
      expect(t.shape).toEqual(want[n].shape);
      expect(t.dtype).toBe(want[n].dtype === '<i8' ? 'int64' : 'float64');
      if (t.dtype === 'float64') expect(numbers(t)).toEqual(want[n].values.map(Number));
      else expect(strings(t)).toEqual(want[n].values);
    }
  });
});
