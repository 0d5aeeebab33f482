/**
 * Malformed .npy files, from tables: magic and versions, header lengths, header syntax and keys
 * (including '__proto__'), shapes, dtypes, fortran_order, truncation and extra bytes, values that
 * are not finite (in float32), and files that are not regular files. Each is given to `run` as its
 * inputs (or targets, weights where the role matters).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { encodeNpy } from '../../../src/io/npy.ts';
import { baseInputs, N, type FuzzCase, type FuzzFiles } from '../harness.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
const ROW = 2 * 6 * 6;
const GOOD_DICT = `{'descr': '<f4', 'fortran_order': False, 'shape': (${N}, 2, 6, 6), }`;

interface RawNpy {
  dict?: string;
  data?: Uint8Array;
  magic?: number[];
  version?: [number, number];
  /** Overrides the header length field. */
  headerLen?: number;
  /** Raw header bytes instead of `dict` (for non-latin1 content). */
  header?: Uint8Array;
}

/** A .npy with a hand-written header (v1: u16 length; v2/v3: u32), padded as numpy pads it. */
export function npyRaw(r: RawNpy): Uint8Array {
  const [major, minor] = r.version ?? [1, 0];
  const prefix = major === 1 ? 10 : 12;
  const text = r.dict ?? GOOD_DICT;
  const header = r.header ?? new TextEncoder().encode(text.padEnd(Math.ceil((text.length + prefix + 1) / 64) * 64 - prefix - 1, ' ') + '\n');
  const data = r.data ?? new Uint8Array(baseInputs().data.buffer);
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set(r.magic ?? MAGIC, 0);
  out[6] = major;
  out[7] = minor;
  const dv = new DataView(out.buffer);
  const len = r.headerLen ?? header.length;
  if (major === 1) dv.setUint16(8, len & 0xffff, true);
  else dv.setUint32(8, len >>> 0, true);
  out.set(header, prefix);
  out.set(data, prefix + header.length);
  return out;
}

const dict = (descr: string, fortran: string, shape: string, extra = '') => `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, ${extra}}`;

/** A case whose file is given as --inputs. */
const asInputs = (name: string, bytes: () => Uint8Array, error?: RegExp, code?: number): FuzzCase => ({
  name: `.npy inputs: ${name}`,
  args: (f: FuzzFiles) => f.run({ '--inputs': f.write(f.fresh('.npy'), bytes()) }),
  error,
  code,
});

const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const inputsWith = (value: number, dtype: 'float32' | 'float64' = 'float32') => () => {
  const t = baseInputs();
  const data = dtype === 'float64' ? Float64Array.from(t.data as Float32Array) : (t.data as Float32Array);
  data[ROW + 5] = value;
  return encodeNpy({ dtype, shape: t.shape, data });
};

const MAGICS: [string, number[]][] = [
  ...MAGIC.map((_, i): [string, number[]] => [`magic byte ${i} wrong`, MAGIC.map((b, j) => (j === i ? b ^ 0x20 : b))]),
  ['a zip file\'s magic', [0x50, 0x4b, 0x03, 0x04, 0x14, 0x00]],
];

const VERSIONS: [number, number][] = [[0, 0], [4, 0], [1, 1], [2, 7], [3, 1], [255, 255]];

const HEADER_KEYS: [string, string, RegExp][] = [
  ["'__proto__' holding the real keys", `{'__proto__': ${GOOD_DICT}}`, /missing 'descr'/],
  ["'__proto__' beside the keys", dict("'<f4'", 'False', `(${N}, 2, 6, 6)`, "'__proto__': {'shape': (1,)}, "), /unexpected key '__proto__'/],
  ["'constructor' beside the keys", dict("'<f4'", 'False', `(${N}, 2, 6, 6)`, "'constructor': 1, "), /unexpected key 'constructor'/],
  ["'toString' beside the keys", dict("'<f4'", 'False', `(${N}, 2, 6, 6)`, "'toString': 'x', "), /unexpected key 'toString'/],
  ['an extra key', dict("'<f4'", 'False', `(${N}, 2, 6, 6)`, "'extra': 0, "), /unexpected key 'extra'/],
  ["'descr' missing", `{'fortran_order': False, 'shape': (${N}, 2, 6, 6), }`, /missing 'descr'/],
  ["'fortran_order' missing", `{'descr': '<f4', 'shape': (${N}, 2, 6, 6), }`, /missing 'fortran_order'/],
  ["'shape' missing", "{'descr': '<f4', 'fortran_order': False, }", /missing 'shape'/],
  ["'descr' twice (the second would win)", `{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (${N}, 2, 6, 6)}`, /duplicate key 'descr'/],
  ["'shape' twice", `{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'shape': (${N}, 2, 6, 6)}`, /duplicate key 'shape'/],
  ['an empty dict', '{}', /missing 'descr'/],
  ['a list, not a dict', "['descr', '<f4']", /not a dict/],
  ['a tuple, not a dict', '(1, 2)', /not a dict/],
  ['a string, not a dict', "'descr'", /not a dict/],
  ['a number, not a dict', '42', /not a dict/],
];

const SYNTAX: [string, string][] = [
  ['an unterminated string', "{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}"],
  ['an unclosed dict', "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)"],
  ['an unclosed tuple', "{'descr': '<f4', 'fortran_order': False, 'shape': (6, }"],
  ['trailing characters', `${GOOD_DICT} junk`],
  ['a missing colon', "{'descr' '<f4', 'fortran_order': False, 'shape': (6,)}"],
  ['a non-string key', "{1: '<f4', 'fortran_order': False, 'shape': (6,)}"],
  ['nesting 40 deep', `{'descr': '<f4', 'fortran_order': False, 'shape': ${'('.repeat(40)}6${')'.repeat(40)}}`],
  ['a Python expression', "{'descr': '<f4', 'fortran_order': False, 'shape': (2*3,)}"],
  ['an empty header', ''],
  ['JSON instead of Python', `{"descr": "<f4", "fortran_order": false, "shape": [${N}, 2, 6, 6]}`],
];

/** [name, shape, the error, data bytes (default: the base inputs')]. */
const SHAPES: [string, string, RegExp?, number?][] = [
  ['a negative dim', `(-${N}, 2, 6, 6)`, /invalid shape/],
  ['a fractional dim', `(${N}.5, 2, 6, 6)`],
  ['a string dim', `('${N}', 2, 6, 6)`, /invalid shape/],
  ['None as a dim', `(None, 2, 6, 6)`, /invalid shape/],
  ['a nested tuple', `((${N}, 2), 6, 6)`, /invalid shape/],
  ['a dim of 2^53 + 1', `(9007199254740993, 2, 6, 6)`, /invalid shape/],
  ['a petabyte declared', `(1000000000, 2, 6, 1000000)`, /truncated: header says/],
  ['2^31 samples declared', `(2147483648, 2, 6, 6)`, /truncated: header says/],
  ['a 40-digit dim', `(${'9'.repeat(40)}, 2, 6, 6)`],
  ['a 0-d array', '()', /shape \[\] does not match/, 4],
  ['no samples', '(0, 2, 6, 6)', /no samples/, 0],
  ['the wrong rank', `(${N}, 72)`],
  ['the wrong per-sample shape', `(${N}, 2, 4, 9)`, /does not match the model's input_shape/],
];

const DTYPES: [string, string][] = [
  ['complex', "'<c8'"], ['unicode', "'<U4'"], ['objects', "'|O'"], ['datetime', "'<M8'"], ['float128', "'<f16'"],
  ['a 3-byte float', "'<f3'"], ['an empty descr', "''"], ['a number as descr', '4'], ['a structured dtype', "[('a', '<f4')]"],
  ['void', "'|V4'"], ['integers as inputs', "'<i4'"], ['bytes as inputs', "'|u1'"], ['booleans as inputs', "'|b1'"],
];

const FORTRAN: [string, string][] = [['the string True', "'True'"], ['1', '1'], ['None', 'None'], ['an empty tuple', '()']];

export const NPY_CASES: FuzzCase[] = [
  asInputs('an empty file', () => new Uint8Array(), /not a \.npy file \(bad magic\)/),
  asInputs('5 bytes', () => Uint8Array.from(MAGIC.slice(0, 5)), /bad magic/),
  asInputs('magic only', () => Uint8Array.from(MAGIC), /bad magic/),
  ...MAGICS.map(([name, magic]) => asInputs(name, () => npyRaw({ magic }), /bad magic/)),
  ...VERSIONS.map(([a, b]) => asInputs(`version ${a}.${b}`, () => npyRaw({ version: [a, b] }), new RegExp(`unsupported \\.npy format version ${a}\\.${b}`))),
  asInputs('v2 truncated in its length field', () => npyRaw({ version: [2, 0] }).subarray(0, 11), /truncated|bad magic/),
  asInputs('header length 0', () => npyRaw({ headerLen: 0 }), /malformed \.npy header/),
  asInputs('header length past the end (v1)', () => npyRaw({ headerLen: 0xffff }), /truncated: header says 65535 bytes of header/),
  asInputs('header length 4 GiB (v2)', () => npyRaw({ version: [2, 0], headerLen: 0xffffffff }), /header length 4294967295 is implausibly large/),
  asInputs('header length 2 MiB (v3)', () => npyRaw({ version: [3, 0], headerLen: 2 * 2 ** 20 }), /implausibly large/),
  asInputs('a v3 header that is not UTF-8', () => npyRaw({ version: [3, 0], header: Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]) }), /malformed \.npy header/),
  asInputs('NUL bytes in the header', () => npyRaw({ dict: GOOD_DICT.replace("'<f4'", "'<f4\u0000'") }), /unsupported dtype/),
  ...HEADER_KEYS.map(([name, d, error]) => asInputs(`header ${name}`, () => npyRaw({ dict: d }), error)),
  ...SYNTAX.map(([name, d]) => asInputs(`header with ${name}`, () => npyRaw({ dict: d }), /malformed \.npy header|not a dict|unsupported dtype|invalid shape/)),
  ...SHAPES.map(([name, shape, error, bytes]) => asInputs(`shape with ${name}`, () => npyRaw({ dict: dict("'<f4'", 'False', shape), data: bytes === undefined ? undefined : new Uint8Array(bytes) }), error)),
  ...DTYPES.map(([name, descr]) => asInputs(`dtype ${name}`, () => npyRaw({ dict: dict(descr, 'False', `(${N}, 2, 6, 6)`), data: new Uint8Array(N * ROW * 4) }))),
  ...FORTRAN.map(([name, value]) => asInputs(`fortran_order ${name}`, () => npyRaw({ dict: dict("'<f4'", value, `(${N}, 2, 6, 6)`) }), /fortran_order is/)),
  asInputs('fortran order holding a NaN', () => npyRaw({ dict: dict("'<f4'", 'True', `(${N}, 2, 6, 6)`), data: f32(Array.from({ length: N * ROW }, (_, i) => (i === 40 ? NaN : 0))) }), /NonFiniteError: .*non-finite value \(NaN\)/, 3),
  asInputs('big-endian with the wrong data length', () => npyRaw({ dict: dict("'>f8'", 'False', `(${N}, 2, 6, 6)`) }), /truncated: header says/),
  asInputs('data cut by one byte', () => npyRaw({}).subarray(0, -1), /truncated: header says \d+ bytes of data, file has \d+/),
  asInputs('data cut in half', () => { const b = npyRaw({}); return b.subarray(0, b.length - (N * ROW * 2)); }, /truncated/),
  asInputs('the header cut', () => npyRaw({}).subarray(0, 40), /truncated/),
  asInputs('one extra byte', () => { const b = npyRaw({}); const o = new Uint8Array(b.length + 1); o.set(b); return o; }, /size mismatch/),
  asInputs('4 KiB of extra bytes', () => { const b = npyRaw({}); const o = new Uint8Array(b.length + 4096); o.set(b); return o; }, /size mismatch/),
  asInputs('a NaN', inputsWith(NaN), /sample 1 holds a non-finite value \(NaN\)/, 3),
  asInputs('+Infinity', inputsWith(Infinity), /non-finite value \(Infinity\)/, 3),
  asInputs('1e300 in float64 (Infinity in float32)', inputsWith(1e300, 'float64'), /1e\+300: finite, but beyond float32/, 3),
  asInputs('-1e39 in float64', inputsWith(-1e39, 'float64'), /beyond float32/, 3),
  {
    name: '.npy targets: labels out of range',
    args: (f) => f.run({ '--targets': f.write(f.fresh('.npy'), encodeNpy({ dtype: 'int64', shape: [N], data: BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 0n]) })) }),
    error: /LabelRangeError: targets: label 4 of sample 4 is outside \[0, 4\)/, code: 3,
  },
  {
    name: '.npy targets: a label of -2^63',
    args: (f) => f.run({ '--targets': f.write(f.fresh('.npy'), encodeNpy({ dtype: 'int64', shape: [N], data: BigInt64Array.from([0n, -(2n ** 63n), 0n, 0n, 0n, 0n]) })) }),
    error: /LabelRangeError/, code: 3,
  },
  {
    name: '.npy targets: soft labels summing to 3',
    args: (f) => f.run({ '--targets': f.write(f.fresh('.npy'), encodeNpy({ dtype: 'float32', shape: [N, 4], data: new Float32Array(N * 4).fill(0.75) })) }),
    error: /sum to 3, not 1/, code: 3,
  },
  {
    name: '.npy targets: 0-d',
    args: (f) => f.run({ '--targets': f.write(f.fresh('.npy'), encodeNpy({ dtype: 'int64', shape: [], data: BigInt64Array.from([1n]) })) }),
    error: /0-d tensor holds no per-sample targets/, code: 3,
  },
  {
    name: '.npy targets: one sample short',
    args: (f) => f.run({ '--targets': f.write(f.fresh('.npy'), encodeNpy({ dtype: 'int64', shape: [N - 1], data: new BigInt64Array(N - 1) })) }),
    error: /ShapeError: inputs have 6 samples but targets have 5/, code: 3,
  },
  ...(['--inputs', '--targets'] as const).map((role): FuzzCase => ({
    name: `.npy ${role.slice(2)}: a link to /dev/zero`,
    args: (f) => {
      const name = f.fresh('.npy');
      symlinkSync('/dev/zero', f.path(name));
      return f.run({ [role]: f.path(name) });
    },
    error: /a character device, not a regular file/, code: 3,
  })),
  {
    name: '.npy inputs: a directory named x.npy',
    args: (f) => {
      const name = f.fresh('.npy');
      mkdirSync(f.path(name));
      return f.run({ '--inputs': f.path(name) });
    },
    error: /is a directory|a directory, not a regular file/, code: 3,
  },
  {
    name: '.npy inputs: a FIFO (nobody writes to it)',
    args: (f) => {
      const name = f.fresh('.npy');
      execFileSync('mkfifo', [f.path(name)]);
      return f.run({ '--inputs': f.path(name) });
    },
    error: /a FIFO, not a regular file/, code: 3,
  },
];
