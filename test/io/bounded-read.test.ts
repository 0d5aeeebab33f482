/**
 * Tensor files are read without trusting them: only regular files (not /dev/zero, a FIFO or a
 * directory), headers checked before any data is allocated (a declared terabyte is refused at
 * once), strict headers (.npy: exactly numpy's three keys, no '__proto__', no duplicates;
 * .safetensors: entries tile the data buffer — no overlap, gap, trailing bytes or repeated key),
 * and the data read once, straight into the buffer the tensor keeps. The dataset readers of sweeps
 * (npy, csv, safetensors, gzipped IDX) refuse the same non-regular files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../src/data/dataset.ts';
import { TensorFileError } from '../../src/errors/index.ts';
import { encodeNpy, parseNpy } from '../../src/io/npy.ts';
import { encodeSafetensors, parseSafetensors } from '../../src/io/safetensors.ts';
import { readTensorFile, readTensorInfo, readTensorMap } from '../../src/io/tensor-file.ts';
import { REPO } from '../queue/helpers.ts';

let dir: string;
const file = (name: string) => path.join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bp-bounded-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A .npy v1.0 with a hand-written header dict. */
function npyWith(dict: string, data = new Uint8Array()): Uint8Array {
  const header = dict.padEnd(Math.ceil((dict.length + 11) / 64) * 64 - 11, ' ') + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, 10 + header.length);
  return out;
}

/** A .safetensors with a raw JSON header and data buffer. */
function stWith(header: string, data = new Uint8Array()): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const refuses = (fn: () => unknown, fragment: string | RegExp) => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TensorFileError);
  expect((err as Error).message).toMatch(fragment);
};

describe('only regular files are read', () => {
  it('a link to /dev/zero is refused before anything is read', async () => {
    for (const name of ['zero.npy', 'zero.safetensors']) {
      symlinkSync('/dev/zero', file(name));
      await expect(readTensorFile(file(name))).rejects.toThrow(/a character device, not a regular file/);
      await expect(readTensorInfo(file(name))).rejects.toThrow(TensorFileError);
    }
    await expect(readTensorMap(file('zero.safetensors'))).rejects.toThrow(/character device/);
  });

  it.skipIf(spawnSync('mkfifo', ['--version']).status !== 0)('a FIFO is refused at once instead of blocking the open', async () => {
    execFileSync('mkfifo', [file('pipe.npy')]);
    const t0 = performance.now();
    await expect(readTensorFile(file('pipe.npy'))).rejects.toThrow(/a FIFO, not a regular file/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a directory is refused', async () => {
    await expect(readTensorFile(dir + '/.npy')).rejects.toThrow(TensorFileError);
  });
});

describe('declared sizes are checked against the file before allocating', () => {
  it('a .npy declaring a petabyte is refused from its header', async () => {
    writeFileSync(file('huge.npy'), npyWith("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000), }"));
    await expect(readTensorFile(file('huge.npy'))).rejects.toThrow(/truncated: header says 8000000000000000 bytes of data, file has 0/);
  });

  it('a .npy header length beyond 1 MiB is refused (v2: u32 length)', () => {
    const bytes = new Uint8Array(64);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]);
    new DataView(bytes.buffer).setUint32(8, 0xfffffff0, true);
    refuses(() => parseNpy(bytes, 'h.npy'), /header length 4294967280 is implausibly large/);
  });

  it('a .safetensors entry declaring more than the file holds is refused from its header', async () => {
    writeFileSync(file('huge.safetensors'), stWith(JSON.stringify({ w: { dtype: 'F32', shape: [1e9, 1e3], data_offsets: [0, 4e12] } })));
    await expect(readTensorMap(file('huge.safetensors'))).rejects.toThrow(/out of range: data buffer has 0 bytes/);
  });

  it('readTensorInfo reads the header only', async () => {
    writeFileSync(file('x.npy'), encodeNpy({ dtype: 'float64', shape: [3, 2], data: new Float64Array(6) }));
    expect(await readTensorInfo(file('x.npy'))).toEqual({ dtype: 'float64', shape: [3, 2], bytes: 48 });
    writeFileSync(file('x.safetensors'), encodeSafetensors({ t: { dtype: 'int64', shape: [4], data: new BigInt64Array(4) } }));
    expect(await readTensorInfo(file('x.safetensors'))).toEqual({ dtype: 'int64', shape: [4], bytes: 32 });
  });

  it.skipIf(!existsSync('/proc/self/status'))('a large .npy is held once: peak memory ≈ its size, not twice', () => {
    // The file is written here; a child process reads it and reports its peak RSS (VmHWM: the
    // high-water mark of its own address space; getrusage's maxRSS would include this process's,
    // which Linux carries across fork + exec). 192 MiB of float32: reading the file and then
    // decoding a copy would peak at twice that.
    const size = 192 * 2 ** 20;
    writeFileSync(file('big.npy'), encodeNpy({ dtype: 'float32', shape: [size / 4], data: new Float32Array(size / 4) }));
    const script = `
      import { readFileSync } from 'node:fs';
      import { readTensorFile } from './src/io/tensor-file.ts';
      const hwm = () => 1024 * Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      const before = hwm();
      const t = await readTensorFile(process.env.BP_FILE);
      console.log(JSON.stringify({ peak: hwm() - before, length: t.data.length }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', env: { ...process.env, BP_FILE: file('big.npy') } });
    expect(r.status, r.stderr).toBe(0);
    const { peak, length } = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(length).toBe(size / 4);
    expect(peak).toBeLessThan(1.4 * size);
    rmSync(file('big.npy'));
  }, 60_000);
});

describe('.npy headers are exactly numpy\'s', () => {
  const data = new Uint8Array(8);
  it.each([
    ['__proto__ key', "{'__proto__': {'descr': '<f8', 'fortran_order': False, 'shape': (1,)}}", /missing 'descr'/],
    ['__proto__ beside the keys', "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), '__proto__': 1}", /unexpected key '__proto__'/],
    ['an extra key', "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 0}", /unexpected key 'extra'/],
    ['a repeated key', "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", /duplicate key 'descr'/],
    ['nesting too deep', `{'descr': '<f8', 'fortran_order': False, 'shape': ${'('.repeat(20)}1${')'.repeat(20)}}`, /nested deeper than 8/],
  ])('%s', (_name, dict, fragment) => {
    refuses(() => parseNpy(npyWith(dict, data), 'p.npy'), fragment);
  });

  it('Object.prototype is untouched after a __proto__ header', () => {
    try {
      parseNpy(npyWith("{'__proto__': {'polluted': True}, 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", data), 'p.npy');
    } catch {
      // refused (unexpected key): what matters here is that nothing leaked
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('.safetensors entries tile the data buffer', () => {
  const d16 = new Uint8Array(16);
  const entry = (offsets: number[], shape = [2]) => ({ dtype: 'F32', shape, data_offsets: offsets });
  it.each([
    ['overlapping', { a: entry([0, 8]), b: entry([4, 12]) }, 16, /'b' data_offsets \[4, 12\] overlap those of 'a' \[0, 8\]/],
    ['aliasing the same bytes', { a: entry([0, 8]), b: entry([0, 8]) }, 8, /overlap/],
    ['with a gap', { a: entry([0, 8]), b: entry([12, 20]) }, 20, /bytes \[8, 12\) of the data buffer belong to no tensor/],
    ['not starting at 0', { a: entry([8, 16]) }, 16, /bytes \[0, 8\) of the data buffer belong to no tensor/],
    ['with trailing bytes', { a: entry([0, 8]) }, 16, /8 trailing bytes after the last tensor's data/],
  ])('refuses entries %s', (_name, header, bytes, fragment) => {
    refuses(() => parseSafetensors(stWith(JSON.stringify(header), new Uint8Array(bytes)), 't.safetensors'), fragment);
  });

  it('refuses a repeated key, at any depth', () => {
    refuses(() => parseSafetensors(stWith('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}', d16), 'd.safetensors'), /names "a" twice/);
    refuses(() => parseSafetensors(stWith('{"a": {"dtype": "F32", "dtype": "F64", "shape": [4], "data_offsets": [0, 16]}}', d16), 'd.safetensors'), /names "dtype" twice/);
    refuses(() => parseSafetensors(stWith('{"__metadata__": {"k": "1", "k": "2"}}'), 'd.safetensors'), /names "k" twice/);
  });

  it('refuses unknown fields in an entry', () => {
    refuses(() => parseSafetensors(stWith(JSON.stringify({ a: { ...entry([0, 8]), offset: 3 } }), new Uint8Array(8)), 'f.safetensors'), /unexpected field "offset"/);
  });

  it('keeps zero-size tensors, and a __proto__ name or metadata key as plain keys', () => {
    // Written as text: in a JS object literal `__proto__:` would set the prototype, not a key.
    const text = '{"__metadata__": {"__proto__": "x"}, "__proto__": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, ' +
      '"empty": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}}';
    const { tensors, metadata } = parseSafetensors(stWith(text, new Uint8Array(8)), 'z.safetensors');
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toEqual(['__proto__']);
    expect([...tensors.keys()]).toEqual(['__proto__', 'empty']);
    expect(tensors.get('__proto__')!.shape).toEqual([2]);
  });

  it('files from encodeSafetensors pass (control)', () => {
    const bytes = encodeSafetensors({ a: { dtype: 'float32', shape: [2], data: new Float32Array(2) }, b: { dtype: 'int64', shape: [0], data: new BigInt64Array(0) } });
    expect([...parseSafetensors(bytes, 'ok.safetensors').tensors.keys()]).toEqual(['a', 'b']);
  });
});

describe('dataset readers (sweeps) share the bounded reads', () => {
  it.each([
    ['a .npy dataset linked to /dev/zero', 'ds-zero.npy', 'zero', /a character device, not a regular file/],
    ['a .csv dataset that is a FIFO', 'ds-fifo.csv', 'fifo', /a FIFO, not a regular file/],
    ['a gzipped IDX file linked to /dev/zero', 'zero-images-idx3-ubyte.gz', 'zero', /a character device, not a regular file/],
    ['a .safetensors dataset that is a FIFO', 'ds-fifo.safetensors', 'fifo', /a FIFO, not a regular file/],
  ])('%s', async (_name, fileName, kind, fragment) => {
    const p = file(fileName);
    if (kind === 'zero') symlinkSync('/dev/zero', p);
    else execFileSync('mkfifo', [p]);
    const t0 = performance.now();
    // Only .npy takes a separate targets file; the other formats hold their labels.
    await expect(openDataset(fileName.endsWith('.npy') ? { path: p, targets: p } : { path: p })).rejects.toThrow(fragment);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a .npy dataset header with __proto__ is refused like a tensor file', async () => {
    writeFileSync(file('ds-proto.npy'), npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), '__proto__': 1}", new Uint8Array(16)));
    await expect(openDataset({ path: file('ds-proto.npy'), targets: file('ds-proto.npy') })).rejects.toThrow(/unexpected key '__proto__'/);
  });
});
