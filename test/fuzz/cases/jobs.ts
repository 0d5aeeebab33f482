/**
 * Malformed JOB.json records as `backpack-ts submit` reads them, from tables: files that are not
 * JSON or not objects, unknown fields, every field with values of the wrong type or range,
 * tensors and models that fail the checks submit makes before writing anything (paths, headers,
 * shapes, weights, the memory a worker would need, KFRA across shards), and job files that are
 * not regular files. Values inside tensors are the workers' business and are not cases here.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { encodeNpy } from '../../../src/io/npy.ts';
import { BASE_MODEL, N, type FuzzCase, type FuzzFiles } from '../harness.ts';
import { npyRaw } from './npy.ts';

/** The connection every case uses (a fresh key prefix per suite, set by the test). */
export const queueArgs: { value: string[] } = { value: [] };

const BASE_JOB = { model: 'model.json', weights: 'weights.safetensors', inputs: 'inputs.npy', targets: 'targets.npy', extensions: ['BatchGrad'], options: { shardSize: 3 } };

/** `submit` of a job file with the given text. */
const submitText = (name: string, text: (f: FuzzFiles) => string, error?: RegExp, code?: number): FuzzCase => ({
  name: `job: ${name}`,
  args: (f) => ['submit', f.write(f.fresh('.json'), text(f)), ...queueArgs.value],
  error,
  code,
});

/** `submit` of the base job with fields replaced (undefined deletes a field). */
const submitWith = (name: string, fields: (f: FuzzFiles) => Record<string, unknown>, error?: RegExp, code?: number) =>
  submitText(name, (f) => {
    const job: Record<string, unknown> = { ...BASE_JOB, ...fields(f) };
    for (const [k, v] of Object.entries(job)) if (v === undefined) delete job[k];
    return JSON.stringify(job);
  }, error, code);

const TEXTS: [string, string, RegExp][] = [
  ['not JSON', '{"model": ', /not valid JSON/], ['an empty file', '', /not valid JSON/], ['a JSON array', '[]', /expected object/],
  ['JSON null', 'null', /expected object/], ['a number', '7', /expected object/], ['a string', '"job"', /expected object/],
];

/** [field, bad values]: each gives a JobSpecError naming the field (exit 2). */
const FIELDS: [string, unknown[]][] = [
  ['name', [5, 'x'.repeat(201), ['a']]],
  ['model', [5, [1], null, '']],
  ['weights', [5, '', null, ['w.safetensors']]],
  ['inputs', [5, '', {}]],
  ['targets', [false, '']],
  ['vectors', [5, '']],
  ['extensions', [5, [1], { BatchGrad: true }]],
  ['options', ['fast', [1], null]],
  ['tensors', ['cloud', 1, null]],
  ['output', ['out', [], null]],
  ['priority', [-1, 2097153, 1.5, '1']],
  ['ttlSeconds', [0, -1, 1.5, 'week']],
];

const OPTIONS: [string, unknown[]][] = [
  ['backend', ['foo', 'WASM', 1]],
  ['shardSize', [0, -1, 1.5, '3']],
  ['seed', [-1, 1.5, 'x']],
  ['mcSamples', [0, -2, 'many']],
  ['subsampling', [[-1], [1.5], 'all', [['0']]]],
  ['batchSize', [0, -3, 'x']],
  ['accumulate', ['yes', 1]],
  ['threads', [4]],
];

const OUTPUTS: unknown[] = [{ dir: 3 }, { redis: 'yes' }, { bucket: 's3://x' }, { dir: '' }];

const badFile = (kind: 'zero' | 'fifo' | 'dir', ext: string) => (f: FuzzFiles) => {
  const p = f.path(f.fresh(ext));
  if (kind === 'zero') symlinkSync('/dev/zero', p);
  else if (kind === 'fifo') execFileSync('mkfifo', [p]);
  else mkdirSync(p);
  return p;
};

export const JOB_CASES: FuzzCase[] = [
  ...TEXTS.map(([name, text, error]) => submitText(name, () => text, error, 2)),
  submitText('nesting a million deep', () => `{"model": ${'['.repeat(1e6)}${']'.repeat(1e6)}}`, /JobSpecError/, 2),
  submitWith('an unknown field', () => ({ shards: 3 }), /Unrecognized key.*"shards"/, 2),
  submitWith('a __proto__ field', () => JSON.parse('{"__proto__": {"tensors": "paths"}}') as Record<string, unknown>, /__proto__/, 2),
  ...['model', 'weights', 'inputs', 'targets'].map((field) => submitWith(`no ${field}`, () => ({ [field]: undefined }), new RegExp(field), 2)),
  ...FIELDS.flatMap(([field, values]) => values.map((value) => submitWith(`${field} = ${JSON.stringify(value).slice(0, 30)}`, () => ({ [field]: value }), undefined))),
  ...OPTIONS.flatMap(([option, values]) => values.map((value) => submitWith(`options.${option} = ${JSON.stringify(value)}`, () => ({ options: { [option]: value } }), /JobSpecError: .*options/, 2))),
  ...OUTPUTS.map((output) => submitWith(`output ${JSON.stringify(output)}`, () => ({ output }), /JobSpecError: .*output/, 2)),
  submitWith('options.accumulate without batchSize', () => ({ options: { accumulate: true } }), /options\.accumulate needs options\.batchSize/, 2),
  submitWith('an unknown quantity', () => ({ extensions: ['BatchGrad', 'Hessian'] }), /UnknownExtensionError: unknown extension 'Hessian'/, 2),
  submitWith('quantities as a string with an unknown one', () => ({ extensions: 'BatchGrad,Foo' }), /unknown extension 'Foo'/, 2),
  submitWith('KFRA across several shards', () => ({ extensions: ['KFRA'] }), /NotShardableError|UnsupportedModuleError/, 4),
  submitWith('subsampling outside the batch', () => ({ options: { shardSize: 3, subsampling: [0, N] } }), /subsampling index 6 is outside \[0, 6\)/, 2),
  submitWith('10^7 MC samples (a worker could never hold one sample)', () => ({ extensions: ['DiagGGNMC'], options: { mcSamples: 10_000_000 } }), /MemoryBudgetError/, 2),
  submitWith('an inline model of 1e9 padding', () => ({ model: { ...BASE_MODEL, layers: [{ type: 'ZeroPad2d', padding: 1e9 }, { type: 'MaxPool2d', kernel_size: 2000000006 }, { type: 'Flatten' }, { type: 'Linear', in_features: 2, out_features: 4 }] } }), /MemoryBudgetError: .*(ZeroPad2d|MaxPool2d)/, 2),
  submitWith('an inline model that is not a model', () => ({ model: { layers: 'all of them' } }), /ModelSpecError/, 3),
  submitWith('an inline model with a cycle', () => ({ model: { input_shape: [2, 6, 6], graph: { nodes: [{ name: 'a', layer: { type: 'Identity' }, inputs: ['b'] }, { name: 'b', layer: { type: 'Identity' }, inputs: ['a'] }], output: 'b' }, loss: BASE_MODEL.loss } }), /cycle/, 3),
  submitWith('a model file that is missing', () => ({ model: 'nope.json' }), /nope\.json: file not found/, 3),
  submitWith('a model file linked to /dev/zero', (f) => ({ model: badFile('zero', '.json')(f) }), /a character device, not a regular file/, 3),
  submitWith('a model file that is a FIFO', (f) => ({ model: badFile('fifo', '.json')(f) }), /a FIFO, not a regular file/, 3),
  ...(['weights', 'inputs', 'targets'] as const).flatMap((field) => {
    const ext = field === 'weights' ? '.safetensors' : '.npy';
    return [
      submitWith(`${field} missing`, () => ({ [field]: `missing${ext}` }), /file not found/, 3),
      submitWith(`${field} linked to /dev/zero`, (f) => ({ [field]: badFile('zero', ext)(f) }), /a character device, not a regular file/, 3),
      submitWith(`${field} a FIFO`, (f) => ({ [field]: badFile('fifo', ext)(f) }), /a FIFO, not a regular file/, 3),
      submitWith(`${field} a directory`, (f) => ({ [field]: badFile('dir', ext)(f) }), /directory/, 3),
      submitWith(`${field} with an unknown extension`, (f) => ({ [field]: f.write(f.fresh('.pt'), 'x') }), /unknown tensor file extension|must be a \.safetensors file/, 3),
    ];
  }),
  submitWith('vectors missing', () => ({ vectors: 'missing.safetensors', extensions: ['GGNMP'] }), /file not found/, 3),
  submitWith('inputs with a __proto__ header', (f) => ({ inputs: f.write(f.fresh('.npy'), npyRaw({ dict: "{'__proto__': {'descr': '<f4', 'fortran_order': False, 'shape': (6, 2, 6, 6)}}" })) }), /TensorFileError: .*missing 'descr'/, 3),
  submitWith('inputs declaring a petabyte', (f) => ({ inputs: f.write(f.fresh('.npy'), npyRaw({ dict: "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 2, 6, 6), }" })) }), /truncated: header says/, 3),
  submitWith('inputs of the wrong shape', (f) => ({ inputs: f.write(f.fresh('.npy'), encodeNpy({ dtype: 'float32', shape: [N, 72], data: new Float32Array(N * 72) })) }), /ShapeError/, 3),
  submitWith('targets of another count', (f) => ({ targets: f.write(f.fresh('.npy'), encodeNpy({ dtype: 'int64', shape: [N + 1], data: new BigInt64Array(N + 1) })) }), /ShapeError/, 3),
  submitWith('weights for another model', (f) => ({ weights: f.write(f.fresh('.safetensors'), new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])) }), /WeightsError: parameter '0\.weight' is missing/, 3),
  { name: 'job: a file linked to /dev/zero', args: (f) => ['submit', badFile('zero', '.json')(f), ...queueArgs.value], error: /cannot read the job file: .*a character device/, code: 2 },
  { name: 'job: a FIFO', args: (f) => ['submit', badFile('fifo', '.json')(f), ...queueArgs.value], error: /a FIFO, not a regular file/, code: 2 },
  { name: 'job: a directory', args: (f) => ['submit', f.dir, ...queueArgs.value], error: /cannot read the job file/, code: 2 },
  { name: 'job: a missing file', args: (f) => ['submit', f.path('nope.json'), ...queueArgs.value], error: /cannot read the job file: .*file not found/, code: 2 },
  { name: 'job: a 17 MiB file', args: (f) => ['submit', f.write(f.fresh('.json'), `${JSON.stringify(BASE_JOB)}${' '.repeat(17 * 2 ** 20)}`), ...queueArgs.value], error: /more than the 16777216 this file may have/, code: 2 },
];
