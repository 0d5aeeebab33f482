/**
 * Malformed .safetensors files, from tables: the header length field, headers that are not JSON
 * (or not an object), dtype names, shapes, data_offsets (overlapping, gappy, out of range,
 * aliasing, trailing bytes), repeated keys, metadata, and weights that are valid files but wrong
 * for the model (missing, misshaped, non-finite in float32, a negative BatchNorm variance). Given
 * to `run` as its weights, inputs or GGNMP vectors.
 */
import { symlinkSync } from 'node:fs';
import { encodeSafetensors } from '../../../src/io/safetensors.ts';
import type { HostTensor } from '../../../src/io/host-tensor.ts';
import { baseInputs, baseWeights, type FuzzCase, type FuzzFiles } from '../harness.ts';

/** A safetensors file from raw header text and data; `len` overrides the length field. */
export function stRaw(header: string, data: Uint8Array = new Uint8Array(), len?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, len ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

interface Entry {
  dtype: unknown;
  shape: unknown;
  data_offsets: unknown;
  [extra: string]: unknown;
}

/** The base weights as an editable header and their data buffer. */
function weightsLayout(): { header: Record<string, Entry>; data: Uint8Array } {
  const bytes = encodeSafetensors(baseWeights());
  const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as Record<string, Entry>;
  return { header, data: bytes.subarray(8 + len) };
}

/** The base weights with their header edited (and the data buffer optionally replaced). */
const editedWeights = (edit: (h: Record<string, Entry>) => void, data?: (d: Uint8Array) => Uint8Array) => () => {
  const { header, data: d } = weightsLayout();
  edit(header);
  return stRaw(JSON.stringify(header), data ? data(d) : d);
};

const asWeights = (name: string, bytes: () => Uint8Array, error?: RegExp, code?: number): FuzzCase => ({
  name: `.safetensors weights: ${name}`,
  args: (f: FuzzFiles) => f.run({ '--weights': f.write(f.fresh('.safetensors'), bytes()) }),
  error,
  code,
});

const asInputs = (name: string, bytes: () => Uint8Array, error?: RegExp): FuzzCase => ({
  name: `.safetensors inputs: ${name}`,
  args: (f: FuzzFiles) => f.run({ '--inputs': f.write(f.fresh('.safetensors'), bytes()) }),
  error,
});

/** Base weights with one tensor replaced. */
const withTensor = (key: string, t: HostTensor | null) => () => {
  const w = baseWeights();
  if (t) w.set(key, t);
  else w.delete(key);
  return encodeSafetensors(w);
};

const LENGTHS: [string, () => Uint8Array, RegExp][] = [
  ['an empty file', () => new Uint8Array(), /truncated: 0 bytes, too short for the 8-byte header length/],
  ['7 bytes', () => new Uint8Array(7), /too short for the 8-byte header length/],
  ['length 0 (no header)', () => stRaw('', new Uint8Array(), 0n), /header is not valid JSON/],
  ['length past the end', () => stRaw('{}', new Uint8Array(), 1000n), /header length 1000 exceeds the file/],
  ['length 2^63', () => stRaw('{}', new Uint8Array(), 2n ** 63n), /header length 9223372036854775808 exceeds the file/],
  ['length 2^64 − 1', () => stRaw('{}', new Uint8Array(), 2n ** 64n - 1n), /exceeds the file/],
  ['length one short of the header', () => stRaw('{"a": 1}', new Uint8Array(), 7n), /header is not valid JSON/],
];

const NOT_JSON: [string, string][] = [
  ['garbage', 'hello world'], ['truncated JSON', '{"0.weight": {"dtype": "F32"'], ['a JSON array', '[1, 2, 3]'], ['a JSON number', '42'],
  ['JSON null', 'null'], ['a JSON string', '"weights"'], ['single quotes', "{'a': 1}"], ['a trailing comma', '{"a": {},}'],
];

const DTYPES: unknown[] = ['F8_E4M3', 'f32', '', 'F32 ', 'I128', 'C64', 'STRING', 123, null, ['F32'], { name: 'F32' }, '__proto__', 'toString'];

const SHAPES: unknown[] = [[-3, 2, 3, 3], [3.5, 2, 3, 3], ['3', 2, 3, 3], [[3], 2, 3, 3], null, 'auto', [2 ** 53, 2, 3, 3], {}];

const OFFSETS: [string, (h: Record<string, Entry>) => void, RegExp][] = [
  ['overlapping', (h) => { h['0.bias'].data_offsets = [0, 12]; }, /overlap/],
  ['aliasing another tensor', (h) => { h['1.bias'].data_offsets = h['1.weight'].data_offsets; }, /overlap/],
  ['leaving a gap', (h) => { h['0.bias'] = { ...h['0.bias'], data_offsets: [(h['0.bias'].data_offsets as number[])[0] + 4, (h['0.bias'].data_offsets as number[])[1] + 4] }; }, /overlap|belong to no tensor|out of range/],
  ['beyond the data buffer', (h) => { h['5.bias'].data_offsets = [10_000_000, 10_000_016]; }, /out of range: data buffer has/],
  ['with begin > end', (h) => { h['0.bias'].data_offsets = [12, 0]; }, /invalid data_offsets \[12,0\]/],
  ['negative', (h) => { h['0.bias'].data_offsets = [-12, 0]; }, /invalid data_offsets/],
  ['fractional', (h) => { h['0.bias'].data_offsets = [0.5, 12.5]; }, /invalid data_offsets/],
  ['with three entries', (h) => { h['0.bias'].data_offsets = [0, 12, 24]; }, /invalid data_offsets/],
  ['as strings', (h) => { h['0.bias'].data_offsets = ['0', '12']; }, /invalid data_offsets/],
  ['missing', (h) => { delete h['0.bias'].data_offsets; }, /invalid data_offsets undefined/],
  ['spanning the wrong size', (h) => { h['0.bias'].shape = [4]; }, /span 12 bytes, but shape \[4\] of F32 needs 16/],
  ['of 2^53', (h) => { h['0.bias'].data_offsets = [2 ** 53, 2 ** 53 + 12]; }, /invalid data_offsets|out of range/],
];

const ENTRIES: [string, unknown][] = [['a string', 'F32'], ['an array', [1, 2]], ['null', null], ['a number', 7], ['an empty object', {}]];

export const SAFETENSORS_CASES: FuzzCase[] = [
  ...LENGTHS.map(([name, bytes, error]) => asWeights(`header ${name}`, bytes, error, 3)),
  ...NOT_JSON.map(([name, text]) => asWeights(`header ${name}`, () => stRaw(text), /header is not valid JSON|header is not a JSON object/, 3)),
  // Byte 15 is the first x of the header's "xx" (8 bytes of length field first).
  asWeights('a header that is not UTF-8', () => stRaw('{"a": "xx"}').map((b, i) => (i === 15 ? 0xff : b)), /header is not valid JSON/, 3),
  // TextDecoder drops a BOM: the header is then {} and the weights are missing.
  asWeights('a header starting with a BOM', () => stRaw('\ufeff{}'), /header is not valid JSON|is missing from the weights file/, 3),
  ...DTYPES.map((dtype) => asWeights(`dtype ${JSON.stringify(dtype)}`, editedWeights((h) => { h['0.weight'].dtype = dtype; }), /unsupported dtype/, 3)),
  ...SHAPES.map((shape) => asWeights(`shape ${JSON.stringify(shape)}`, editedWeights((h) => { h['0.weight'].shape = shape; }), /invalid shape|span \d+ bytes/, 3)),
  ...OFFSETS.map(([name, edit, error]) => asWeights(`data_offsets ${name}`, editedWeights(edit), error, 3)),
  asWeights('data_offsets not starting at 0', editedWeights((h) => {
    for (const e of Object.values(h)) e.data_offsets = (e.data_offsets as number[]).map((o) => o + 8);
  }, (d) => { const o = new Uint8Array(d.length + 8); o.set(d, 8); return o; }), /bytes \[0, 8\) of the data buffer belong to no tensor/, 3),
  asWeights('8 trailing bytes', editedWeights(() => undefined, (d) => { const o = new Uint8Array(d.length + 8); o.set(d); return o; }), /8 trailing bytes after the last tensor's data/, 3),
  asWeights('1 MiB of trailing bytes', editedWeights(() => undefined, (d) => { const o = new Uint8Array(d.length + 2 ** 20); o.set(d); return o; }), /trailing bytes/, 3),
  asWeights('a repeated tensor name (the last would win)', () => {
    const { header, data } = weightsLayout();
    const text = JSON.stringify(header).replace('{', `{"0.bias": ${JSON.stringify(header['1.bias'])},`);
    return stRaw(text, data);
  }, /names "0\.bias" twice/, 3),
  asWeights('a repeated field in an entry', () => {
    const { header, data } = weightsLayout();
    return stRaw(JSON.stringify(header).replace('"dtype":"F32"', '"dtype":"F64","dtype":"F32"'), data);
  }, /names "dtype" twice/, 3),
  asWeights('a repeated metadata key', () => {
    const { header, data } = weightsLayout();
    return stRaw(JSON.stringify(header).replace('{', '{"__metadata__": {"k": "a", "k": "b"},'), data);
  }, /names "k" twice/, 3),
  asWeights('metadata that is not strings', editedWeights((h) => { (h as Record<string, unknown>).__metadata__ = { epoch: 3 }; }), /__metadata__ must map strings to strings/, 3),
  asWeights('metadata that is an array', editedWeights((h) => { (h as Record<string, unknown>).__metadata__ = ['a']; }), /__metadata__ must map strings/, 3),
  asWeights('an extra field in an entry', editedWeights((h) => { h['0.bias'].offset = 0; }), /unexpected field "offset"/, 3),
  ...ENTRIES.map(([name, entry]) => asWeights(`an entry that is ${name}`, editedWeights((h) => { (h as Record<string, unknown>)['0.bias'] = entry; }), /header entry is not an object|unsupported dtype/, 3)),
  asWeights('a parameter missing', withTensor('5.bias', null), /WeightsError: parameter '5\.bias' is missing from the weights file/, 3),
  asWeights('a buffer missing', withTensor('1.running_var', null), /WeightsError: buffer '1\.running_var' is missing/, 3),
  asWeights('a parameter of the wrong shape', withTensor('5.weight', { dtype: 'float32', shape: [27, 4], data: new Float32Array(108) }), /has shape \[27, 4\], the model spec needs \[4, 27\]/, 3),
  asWeights('integer weights', withTensor('5.bias', { dtype: 'int32', shape: [4], data: new Int32Array(4) }), /has dtype int32; expected F32 or F64/, 3),
  asWeights('a NaN weight', withTensor('0.bias', { dtype: 'float32', shape: [3], data: Float32Array.from([0, NaN, 0]) }), /NonFiniteError: parameter '0\.bias' holds a non-finite value \(NaN\)/, 3),
  asWeights('a 1e300 weight (F64)', withTensor('5.weight', { dtype: 'float64', shape: [4, 27], data: Float64Array.from({ length: 108 }, (_, i) => (i === 7 ? 1e300 : 0)) }), /1e\+300: finite, but beyond float32/, 3),
  asWeights('a negative running_var', withTensor('1.running_var', { dtype: 'float32', shape: [3], data: Float32Array.from([1, -0.5, 1]) }), /buffer '1\.running_var' holds -0\.5 at flat index 1; it must be at least 0/, 3),
  asWeights('a weights file with no tensors', () => encodeSafetensors({}), /is missing from the weights file/, 3),
  {
    name: '.safetensors weights: a link to /dev/zero',
    args: (f) => {
      const name = f.fresh('.safetensors');
      symlinkSync('/dev/zero', f.path(name));
      return f.run({ '--weights': f.path(name) });
    },
    error: /a character device, not a regular file/, code: 3,
  },
  {
    name: '.safetensors weights: a .npy given as weights',
    args: (f) => f.run({ '--weights': f.path('inputs.npy') }),
    error: /a tensor map must be a \.safetensors file/, code: 3,
  },
  asInputs('two tensors where one is expected', () => encodeSafetensors({ x: baseInputs(), y: baseInputs() }), /expected exactly one tensor, found 2: 'x', 'y'/),
  asInputs('no tensor', () => encodeSafetensors({}), /expected exactly one tensor, found 0/),
  asInputs('two tensors sharing bytes', () => stRaw(JSON.stringify({ x: { dtype: 'F32', shape: [6, 2, 6, 6], data_offsets: [0, 1728] }, y: { dtype: 'F32', shape: [6], data_offsets: [0, 24] } }), new Uint8Array(1728)), /overlap/),
  asInputs('declaring 2^40 samples', () => stRaw(JSON.stringify({ x: { dtype: 'F32', shape: [2 ** 40, 2, 6, 6], data_offsets: [0, 2 ** 40 * 288] } })), /out of range: data buffer has 0 bytes/),
  {
    name: '.safetensors vectors: GGNMP vectors of the wrong shape',
    args: (f) => {
      const w = baseWeights();
      const vectors = new Map<string, HostTensor>([...w].filter(([k]) => !k.includes('running')).map(([k, t]) => [k, { ...t, shape: [1, ...t.shape, 1] }]));
      return f.run({ '--vectors': f.write(f.fresh('.safetensors'), encodeSafetensors(vectors)), '--extensions': 'GGNMP' });
    },
    error: /ShapeError: .*vectors '0\.weight' have shape \[1, 3, 2, 3, 3, 1\], expected \[V, 3, 2, 3, 3\]/, code: 3,
  },
  {
    name: '.safetensors vectors: 1e39 in a vector',
    args: (f) => {
      const w = baseWeights();
      const vectors = new Map([...w].filter(([k]) => !k.includes('running')).map(([k, t]) => [k, { dtype: 'float64' as const, shape: [1, ...t.shape], data: Float64Array.from(t.data as Float32Array, () => 1e39) }]));
      return f.run({ '--vectors': f.write(f.fresh('.safetensors'), encodeSafetensors(vectors)), '--extensions': 'GGNMP' });
    },
    error: /NonFiniteError: .*vectors '0\.weight' hold a non-finite value \(1e\+39/, code: 3,
  },
  {
    name: '.safetensors vectors: a link to /dev/zero',
    args: (f) => {
      const name = f.fresh('.safetensors');
      symlinkSync('/dev/zero', f.path(name));
      return f.run({ '--vectors': f.path(name), '--extensions': 'HMP' });
    },
    error: /a character device, not a regular file/, code: 3,
  },
];
