import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TensorFileError } from '../../src/errors/index.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { encodeSafetensors, parseSafetensors } from '../../src/io/safetensors.ts';
import { readTensorFile, readTensorMap, writeSafetensorsFile } from '../../src/io/tensor-file.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// CI clones the repo next to shared/, so the fixtures are at <repo>/../shared.
const FIXTURES = process.env.BACKPACK_FIXTURES ?? path.resolve(here, '../../../shared/fixtures/backpack');
const HAS_FIXTURES = existsSync(FIXTURES);
const HAS_NUMPY = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

function python(script: string, arg: string): any {
  const r = spawnSync('python3', ['-c', script, arg], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.error ?? r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A plain numpy safetensors reader (no safetensors package needed), printing values as strings. */
const PY_READ = `
import json, struct, sys, numpy as np
DT = {'F16': '<f2', 'F32': '<f4', 'F64': '<f8', 'I8': 'i1', 'U8': 'u1', 'I16': '<i2', 'I32': '<i4', 'I64': '<i8', 'BOOL': '?'}
def read(p):
  b = open(p, 'rb').read()
  n = struct.unpack('<Q', b[:8])[0]
  h = json.loads(b[8:8 + n])
  out = {'__order__': [k for k in h if k != '__metadata__'], '__metadata__': h.get('__metadata__', {})}
  for k, e in h.items():
    if k == '__metadata__': continue
    s, t = e['data_offsets']
    a = np.frombuffer(b[8 + n + s:8 + n + t], DT[e['dtype']]).reshape(e['shape'])
    out[k] = {'dtype': e['dtype'], 'shape': list(a.shape),
              'values': [repr(float(x)) if a.dtype.kind == 'f' else str(int(x)) for x in a.ravel().tolist()]}
  return out
`;

const strings = (t: HostTensor) => Array.from(t.data as ArrayLike<number | bigint>, (v) => String(v));
const numbers = (t: HostTensor) => Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));

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

/** A safetensors file with a hand-written header (JSON text) and data buffer. */
function stWith(header: string, data: Uint8Array = new Uint8Array(), claimedLen?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, claimedLen ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const TENSORS: Record<string, HostTensor> = {
  'layer.weight': { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, -2.5, 3e-7, 0, 1e30, -0]) },
  'b.bias': { dtype: 'float64', shape: [3], data: Float64Array.from([Math.E, -1e-300, 7]) },
  'a.idx': { dtype: 'int32', shape: [2, 2], data: Int32Array.from([-2147483648, 0, 1, 2147483647]) },
  'z.labels': { dtype: 'int64', shape: [3], data: BigInt64Array.from([2n ** 62n + 1n, -1n, 0n]) },
  scalar: { dtype: 'float64', shape: [], data: Float64Array.from([0.5]) },
  empty: { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
};

describe('safetensors round trip', () => {
  it('keeps every dtype, shape, value and the insertion order; pads the header to 8 bytes', () => {
    const bytes = encodeSafetensors(TENSORS, { format: 'pt', note: 'ünïcode' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
    expect(headerText).toMatch(/} *$/); // space padding only

    const { tensors, metadata } = parseSafetensors(bytes, 'rt.safetensors');
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect([...tensors.keys()]).toEqual(Object.keys(TENSORS));
    for (const [name, t] of Object.entries(TENSORS)) {
      const back = tensors.get(name)!;
      expect(back.dtype).toBe(t.dtype);
      expect(back.shape).toEqual(t.shape);
      expect(back.data.constructor).toBe(t.data.constructor);
      expect(strings(back)).toEqual(strings(t));
    }
  });

  it('accepts a Map, and no metadata', () => {
    const map = new Map(Object.entries(TENSORS).reverse());
    const { tensors, metadata } = parseSafetensors(encodeSafetensors(map), 'm.safetensors');
    expect(metadata).toEqual({});
    expect([...tensors.keys()]).toEqual([...map.keys()]);
  });

  it('reads from an unaligned offset inside a larger buffer', () => {
    const bytes = encodeSafetensors(TENSORS);
    const big = new Uint8Array(bytes.length + 5);
    big.set(bytes, 5);
    const { tensors } = parseSafetensors(big.subarray(5), 'u.safetensors');
    expect(strings(tensors.get('b.bias')!)).toEqual(strings(TENSORS['b.bias']));
  });

  it('rejects data that does not match the shape', () => {
    expectTensorFileError(
      () => encodeSafetensors({ w: { dtype: 'float64', shape: [2], data: new Float64Array(3) } }),
      "tensor 'w': shape [2] needs 2 elements, data has 3",
    );
  });
});

describe('safetensors hand-made files', () => {
  it('F16, BF16, I8, U8, I16, BOOL widen to float32 / int32', () => {
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0xfc00]); // 1, -2, 65504, 2^-24, -inf
    const bf16 = Uint16Array.from([0x3f80, 0xc049]); // 1, -3.140625
    const parts = [
      new Uint8Array(f16.buffer), new Uint8Array(bf16.buffer), Uint8Array.from([0x80, 0x7f]), Uint8Array.from([0, 255]),
      new Uint8Array(Int16Array.from([-32768, 5]).buffer), Uint8Array.from([0, 1, 1]),
    ];
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    const offsets: number[][] = [];
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      offsets.push([at, at + p.length]);
      at += p.length;
    }
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [5], data_offsets: offsets[0] },
      bf: { dtype: 'BF16', shape: [2], data_offsets: offsets[1] },
      i8: { dtype: 'I8', shape: [2], data_offsets: offsets[2] },
      u8: { dtype: 'U8', shape: [2], data_offsets: offsets[3] },
      i16: { dtype: 'I16', shape: [2], data_offsets: offsets[4] },
      b: { dtype: 'BOOL', shape: [3], data_offsets: offsets[5] },
    });
    const { tensors } = parseSafetensors(stWith(header, data), 'n.safetensors');
    const get = (k: string) => tensors.get(k)!;
    expect(get('h').dtype).toBe('float32');
    expect(numbers(get('h'))).toEqual([1, -2, 65504, 2 ** -24, -Infinity]);
    expect(numbers(get('bf'))).toEqual([1, -3.140625]);
    expect(get('i8').dtype).toBe('int32');
    expect(numbers(get('i8'))).toEqual([-128, 127]);
    expect(numbers(get('u8'))).toEqual([0, 255]);
    expect(numbers(get('i16'))).toEqual([-32768, 5]);
    expect(numbers(get('b'))).toEqual([0, 1, 1]);
  });
});

describe('safetensors malformed files', () => {
  const good = () => encodeSafetensors({ w: { dtype: 'float64', shape: [4], data: new Float64Array(4) } });

  it('shorter than 8 bytes', () => {
    expectTensorFileError(() => parseSafetensors(new Uint8Array(5), 's.safetensors'), 's.safetensors: truncated: 5 bytes');
  });

  it('header length beyond the file', () => {
    expectTensorFileError(
      () => parseSafetensors(stWith('{}', undefined, 1000n), 'l.safetensors'),
      'l.safetensors: header length 1000 exceeds the file',
    );
    expectTensorFileError(() => parseSafetensors(stWith('{}', undefined, 2n ** 63n), 'l.safetensors'), 'exceeds the file');
  });

  it('truncated data buffer', () => {
    const bytes = good();
    expectTensorFileError(
      () => parseSafetensors(bytes.subarray(0, bytes.length - 10), 't.safetensors'),
      "t.safetensors: tensor 'w': data_offsets [0, 32] out of range: data buffer has 22 bytes",
    );
  });

  it('header is not JSON', () => {
    expectTensorFileError(() => parseSafetensors(stWith('{"w": nope}'), 'j.safetensors'), 'j.safetensors: header is not valid JSON');
    expectTensorFileError(() => parseSafetensors(stWith('[1, 2]'), 'j.safetensors'), 'header is not a JSON object');
  });

  it('bad offsets', () => {
    const data = new Uint8Array(16);
    const entry = (offsets: unknown, shape = [2]) => JSON.stringify({ w: { dtype: 'F64', shape, data_offsets: offsets } });
    expectTensorFileError(() => parseSafetensors(stWith(entry([0, 24]), data), 'o.safetensors'), 'out of range');
    expectTensorFileError(() => parseSafetensors(stWith(entry([8, 0]), data), 'o.safetensors'), 'invalid data_offsets [8,0]');
    expectTensorFileError(() => parseSafetensors(stWith(entry([0]), data), 'o.safetensors'), 'invalid data_offsets');
    expectTensorFileError(
      () => parseSafetensors(stWith(entry([0, 16], [3]), data), 'o.safetensors'),
      "o.safetensors: tensor 'w': data_offsets [0, 16] span 16 bytes, but shape [3] of F64 needs 24",
    );
    expectTensorFileError(() => parseSafetensors(stWith(entry([0, 16], [-2]), data), 'o.safetensors'), 'invalid shape');
  });

  it('unknown dtype is named', () => {
    const header = JSON.stringify({ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } });
    expectTensorFileError(() => parseSafetensors(stWith(header, new Uint8Array(2)), 'd.safetensors'), 'unsupported dtype "F8_E4M3"');
  });

  it('non-string metadata', () => {
    expectTensorFileError(() => parseSafetensors(stWith('{"__metadata__": {"a": 1}}'), 'x.safetensors'), '__metadata__ must map strings');
  });
});

describe('tensor-file with .safetensors', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'st-file-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writeSafetensorsFile creates parent dirs; readTensorMap reads all, in order', async () => {
    const file = path.join(dir, 'x', 'y', 'all.safetensors');
    await writeSafetensorsFile(file, TENSORS, { k: 'v' });
    const map = await readTensorMap(file);
    expect([...map.keys()]).toEqual(Object.keys(TENSORS));
    expect(readdirSync(path.dirname(file))).toEqual(['all.safetensors']);
  });

  it('readTensorFile returns the only tensor, and names the keys otherwise', async () => {
    const one = path.join(dir, 'one.safetensors');
    await writeSafetensorsFile(one, new Map([['only', TENSORS['b.bias']]]));
    expect(strings(await readTensorFile(one))).toEqual(strings(TENSORS['b.bias']));

    const two = path.join(dir, 'two.safetensors');
    await writeSafetensorsFile(two, { a: TENSORS.scalar, b: TENSORS.scalar });
    await expect(readTensorFile(two)).rejects.toThrow(TensorFileError);
    await expect(readTensorFile(two)).rejects.toThrow(`${two}: expected exactly one tensor, found 2: 'a', 'b'`);
  });

  it('missing file, and a map from a .npy', async () => {
    const missing = path.join(dir, 'gone.safetensors');
    await expect(readTensorMap(missing)).rejects.toThrow(`${missing}: file not found`);
    await expect(readTensorMap(path.join(dir, 'a.npy'))).rejects.toThrow(TensorFileError);
  });
});

describe.skipIf(!HAS_NUMPY)('safetensors against numpy', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'st-numpy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('numpy reads what encodeSafetensors writes', () => {
    const file = path.join(dir, 'ours.safetensors');
    writeFileSync(file, encodeSafetensors(TENSORS, { m: '1' }));
    const got = python(`${PY_READ}\nprint(json.dumps(read(sys.argv[1])))`, file);
    expect(got.__order__).toEqual(Object.keys(TENSORS));
    expect(got.__metadata__).toEqual({ m: '1' });
    for (const [name, t] of Object.entries(TENSORS)) {
      expect(got[name].dtype).toBe({ float32: 'F32', float64: 'F64', int32: 'I32', int64: 'I64' }[t.dtype]);
      expect(got[name].shape).toEqual(t.shape);
      if (t.dtype.startsWith('float')) expect(got[name].values.map(Number)).toEqual(numbers(t));
      else expect(got[name].values).toEqual(strings(t));
    }
  });

  it('reads a file written by python (every readable dtype)', () => {
    const file = path.join(dir, 'py.safetensors');
    const want = python(
      `${PY_READ}
r = np.random.default_rng(1)
arrs = {'f16': r.standard_normal((2, 3)).astype('<f2'), 'f32': r.standard_normal((3,)).astype('<f4'),
        'f64': r.standard_normal((2, 2, 2)), 'i8': np.array([-128, 127], 'i1'), 'u8': np.array([0, 200], 'u1'),
        'i16': np.array([-300, 300], '<i2'), 'i32': np.array([-2**31, 2**31 - 1], '<i4'),
        'i64': np.array([-2**63, 2**63 - 1, 2**53 + 1], '<i8'), 'bool': np.array([[True, False], [False, True]])}
NAMES = {'<f2': 'F16', '<f4': 'F32', '<f8': 'F64', '|i1': 'I8', '|u1': 'U8', '<i2': 'I16', '<i4': 'I32', '<i8': 'I64', '|b1': 'BOOL'}
h, blobs, at = {'__metadata__': {'format': 'np'}}, [], 0
for k, a in arrs.items():
  b = a.tobytes()
  h[k] = {'dtype': NAMES[a.dtype.str], 'shape': list(a.shape), 'data_offsets': [at, at + len(b)]}
  blobs.append(b); at += len(b)
hb = json.dumps(h).encode()
with open(sys.argv[1], 'wb') as f:
  f.write(struct.pack('<Q', len(hb)) + hb + b''.join(blobs))
print(json.dumps(read(sys.argv[1])))
`,
      file,
    );
    const { tensors, metadata } = parseSafetensors(readFileSync(file), 'py.safetensors');
    expect(metadata).toEqual({ format: 'np' });
    expect([...tensors.keys()]).toEqual(want.__order__);
    const HOST: Record<string, string> = {
      F16: 'float32', F32: 'float32', F64: 'float64', I8: 'int32', U8: 'int32', I16: 'int32', I32: 'int32',
      I64: 'int64', BOOL: 'int32',
    };
    for (const name of want.__order__ as string[]) {
      const t = tensors.get(name)!;
      expect(t.dtype).toBe(HOST[want[name].dtype]);
      expect(t.shape).toEqual(want[name].shape);
      if (t.dtype.startsWith('float')) expect(numbers(t)).toEqual(want[name].values.map(Number));
      else expect(strings(t)).toEqual(want[name].values);
    }
  });
});

describe.skipIf(!HAS_FIXTURES)('reference fixtures (.safetensors)', () => {
  const files = HAS_FIXTURES
    ? readdirSync(FIXTURES, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .flatMap((e) => ['weights', 'expected'].map((f) => `${e.name}/${f}.safetensors`))
    : [];

  it.each(files)('%s parses: F64 tensors, sizes consistent', async (f) => {
    const map = await readTensorMap(path.join(FIXTURES, f));
    expect(map.size).toBeGreaterThan(0);
    for (const t of map.values()) {
      expect(t.dtype).toBe('float64');
      expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
    }
  });

  it.skipIf(!HAS_NUMPY)('values equal what numpy reads, for every fixture file', async () => {
    const want = python(
      `${PY_READ}\nprint(json.dumps({f: read(f'{sys.argv[1]}/{f}') for f in ${JSON.stringify(files)}}))`,
      FIXTURES,
    );
    for (const f of files) {
      const map = await readTensorMap(path.join(FIXTURES, f));
      expect([...map.keys()]).toEqual(want[f].__order__);
      for (const [name, t] of map) {
        expect(t.shape).toEqual(want[f][name].shape);
        expect(numbers(t)).toEqual(want[f][name].values.map(Number));
      }
    }
  });
});
