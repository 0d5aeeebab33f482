/**
 * Every option of `run` (and the queue commands' numeric options) with bad values, from a table:
 * wrong types, signs, sizes, formats that Number() would take ('1e300', '0x10'), empty strings,
 * unknown choices and extensions, paths that are missing, directories or not files, and options
 * that are missing or unknown. Queue commands fail while parsing, before any connection.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import type { FuzzCase, FuzzFiles } from '../harness.ts';

const NOT_AN_INT = ['x', '', '1.5', '1e3', '0x10', '-1', ' 7', '+7', '7 8', 'Infinity', 'NaN'];

/** [option, bad values, the error to expect, extra options that make the value matter]. */
const RUN_OPTIONS: [string, string[], RegExp, Record<string, string>?][] = [
  ['--shard-size', ['0', ...NOT_AN_INT, '1e300', '2147483648'], /--shard-size must be/],
  ['--seed', [...NOT_AN_INT, '4294967296'], /--seed must be/],
  ['--mc-samples', ['0', ...NOT_AN_INT, '2147483648'], /--mc-samples must be/],
  ['--workers', ['-1', 'x', '1.5', '129', '100000'], /--workers must be/],
  ['--shard-timeout', ['-1', 'x', '2147483648', '1e9'], /--shard-timeout must be/],
  ['--retries', ['-1', 'x', '101'], /--retries must be/],
  ['--batch-size', ['0', '-1', 'x', '1.5'], /--batch-size must be/],
  ['--subsampling', ['x', '1,,2', '-1', '1.5', ',', '1e2', '2147483648'], /--subsampling must/],
  ['--devices', ['x', '-1', '1.5', '', '0,,1', '128'], /--devices must/],
  ['--max-memory', ['0', '-1', 'x', '1Q', '1e9', '0.1', '', '2P', '2000T'], /--max-memory must be/],
  ['--backend', ['foo', '', 'WASM', 'webgl'], /option '--backend <name>' argument '.*' is invalid/],
  ['--pool', ['fibers', '', 'Threads'], /option '--pool <kind>' argument '.*' is invalid/],
  ['--extensions', ['Hessian', 'batchgrad', 'BatchGrad,,Nope', '__proto__', 'toString', 'BatchGrad;Variance'], /UnknownExtensionError: unknown extension/],
];

const runCases: FuzzCase[] = RUN_OPTIONS.flatMap(([option, values, error, extra]) =>
  values.map((value): FuzzCase => ({
    name: `run ${option} ${JSON.stringify(value)}`,
    args: (f: FuzzFiles) => f.run({ ...extra, [option]: value }),
    error,
  })),
);

/** Paths that are not a readable file of the right kind; `ext` is the option's file extension. */
const PATHS: [string, (f: FuzzFiles, ext: string) => string][] = [
  ['missing', (f, ext) => f.path(`missing${ext}`)],
  ['a directory', (f) => f.dir],
  ['a directory with the right extension', (f, ext) => {
    const p = f.path(f.fresh(ext));
    mkdirSync(p);
    return p;
  }],
  ['empty', () => ''],
  ['a link to /dev/zero', (f, ext) => {
    const p = f.path(f.fresh(ext));
    symlinkSync('/dev/zero', p);
    return p;
  }],
];
const FILE_OPTIONS: [string, string][] = [['--model', '.json'], ['--weights', '.safetensors'], ['--inputs', '.npy'], ['--targets', '.npy'], ['--vectors', '.safetensors']];

const pathCases: FuzzCase[] = FILE_OPTIONS.flatMap(([option, ext]) => PATHS.map(([name, make]): FuzzCase => ({
  name: `run ${option}: ${name}`,
  args: (f) => f.run({ [option]: make(f, ext), ...(option === '--vectors' ? { '--extensions': 'GGNMP' } : {}) }),
  code: 3,
})));

const otherCases: FuzzCase[] = [
  ...['x.txt', 'x.csv', 'x.npz', 'x'].flatMap((name) => ['--inputs', '--weights'].map((option): FuzzCase => ({
    name: `run ${option} with extension of ${name}`,
    args: (f) => f.run({ [option]: f.write(name, 'not a tensor') }),
    error: /unknown tensor file extension|a tensor map must be a \.safetensors file/,
    code: 3,
  }))),
  { name: 'run --out: an existing file', args: (f) => f.run({ '--out': f.path('model.json') }), error: /exists and is not a directory/, code: 2 },
  { name: 'run --out: empty', args: (f) => f.run({ '--out': '' }), error: /--out must name a directory/, code: 2 },
  { name: 'run --out: under /proc', args: (f) => f.run({ '--out': '/proc/bp-fuzz/out' }), error: /cannot create/, code: 2 },
  { name: 'run --out: /proc/self', args: (f) => f.run({ '--out': '/proc/self' }), error: /cannot write there/, code: 2 },
  { name: 'run --out: /dev/null', args: (f) => f.run({ '--out': '/dev/null' }), error: /exists and is not a directory/, code: 2 },
  {
    name: 'run --out: results.safetensors is a directory',
    args: (f) => {
      const out = f.path(f.fresh('-out'));
      mkdirSync(`${out}/results.safetensors`, { recursive: true });
      return f.run({ '--out': out });
    },
    error: /results\.safetensors exists and is not a regular file/, code: 2,
  },
  {
    name: 'run --out: summary.json is a link',
    args: (f) => {
      const out = f.path(f.fresh('-out'));
      mkdirSync(out);
      writeFileSync(`${out}/elsewhere.json`, '{}');
      symlinkSync(`${out}/elsewhere.json`, `${out}/summary.json`);
      return f.run({ '--out': out });
    },
    error: /summary\.json exists and is not a regular file/, code: 2,
  },
  { name: 'run --backend tensorflow (not installed)', args: (f) => f.run({ '--backend': 'tensorflow' }), error: /BackendUnavailableError/, code: 5 },
  { name: 'run --backend cuda (no addon)', args: (f) => f.run({ '--backend': 'cuda' }), error: /BackendUnavailableError/, code: 5 },
  { name: 'run --mc-samples 10000000 with DiagGGNMC', args: (f) => f.run({ '--mc-samples': '10000000', '--extensions': 'DiagGGNMC' }), error: /MemoryBudgetError: .*one sample needs for DiagGGNMC/, code: 2 },
  { name: 'run --mc-samples 2147483647 with KFAC', args: (f) => f.run({ '--mc-samples': '2147483647', '--extensions': 'KFAC' }), error: /MemoryBudgetError/, code: 2 },
  { name: 'run --max-memory 1K', args: (f) => f.run({ '--max-memory': '1K' }), error: /MemoryBudgetError: --max-memory 1\.0 KiB is below/, code: 2 },
  { name: 'run --subsampling past the batch', args: (f) => f.run({ '--subsampling': '0,6' }), error: /subsampling index 6 is outside \[0, 6\)/, code: 2 },
  { name: 'run --accumulate without --batch-size', args: (f) => f.run({}, ['--accumulate']), error: /--accumulate needs --batch-size/, code: 2 },
  { name: 'run GGNMP without --vectors', args: (f) => f.run({ '--extensions': 'GGNMP' }), error: /GGNMP needs vectors/, code: 2 },
  { name: 'run KFRA on a model with BatchNorm', args: (f) => f.run({ '--extensions': 'KFRA' }), error: /UnsupportedModuleError/, code: 4 },
  { name: 'run KFLR on a grouped convolution', args: (f) => f.run({ '--extensions': 'KFLR', '--model': f.write(f.fresh('.json'), JSON.stringify({ input_shape: [2, 6, 6], layers: [{ type: 'Conv2d', in_channels: 2, out_channels: 2, kernel_size: 1, groups: 2 }, { type: 'Flatten' }, { type: 'Linear', in_features: 72, out_features: 4 }], loss: { type: 'CrossEntropyLoss', reduction: 'mean' } })) }), error: /UnsupportedModuleError|WeightsError/ },
  { name: 'run --stream=yes (a flag with a value)', args: (f) => f.run({}, ['--stream=yes']), error: /--stream/, code: 2 },
  { name: 'run --quiet=no', args: (f) => f.run({}, ['--quiet=no']), error: /--quiet/, code: 2 },
  { name: 'run an unknown long option', args: (f) => f.run({}, ['--bogus']), error: /unknown option '--bogus'/, code: 2 },
  { name: 'run an unknown short option', args: (f) => f.run({}, ['-x']), error: /unknown option '-x'/, code: 2 },
  { name: 'run an option missing its value', args: (f) => f.run({}, ['--seed']), error: /option '--seed <K>' argument missing/, code: 2 },
  { name: 'run an extra argument', args: (f) => f.run({}, ['extra']), error: /too many arguments|unknown command|excess/i, code: 2 },
  ...['--model', '--weights', '--inputs', '--targets', '--out'].map((option): FuzzCase => ({
    name: `run without ${option}`,
    args: (f) => {
      const args = f.run();
      const at = args.indexOf(option);
      args.splice(at, 2);
      return args;
    },
    error: new RegExp(`required option '${option} <\\w+>' not specified`), code: 2,
  })),
  { name: 'no command at all', args: () => [], error: /a command is needed/, code: 2 },
  { name: 'an unknown command', args: () => ['train'], error: /unknown command 'train'/, code: 2 },
];

/** Queue commands: their numeric options fail while parsing (the URL only matters if they did not). */
const NO_REDIS = ['--redis', 'redis://127.0.0.1:1'];
const QUEUE_OPTIONS: [string, string, string[], RegExp][] = [
  ['submit job.json', '--priority', ['0', '2097153', 'x', '1e3'], /--priority must be/],
  ['submit job.json', '--max-upload', ['0', 'x', '-5M'], /--max-upload must be/],
  ['submit job.json', '--chunk-size', ['100', '200M', 'x'], /--chunk-size must be/],
  ['submit job.json', '--max-memory', ['0', 'lots'], /--max-memory must be/],
  ['worker', '--workers', ['0', '129', 'x'], /--workers must be/],
  ['worker', '--concurrency', ['0', '1.5'], /--concurrency must be/],
  ['worker', '--lock-duration', ['0', '2147483648'], /--lock-duration must be/],
  ['worker', '--stalled-interval', ['x', '0'], /--stalled-interval must be/],
  ['worker', '--max-stalled', ['-1', '1001'], /--max-stalled must be/],
  ['worker', '--shard-timeout', ['2147483648'], /--shard-timeout must be/],
  ['worker', '--max-result', ['0'], /--max-result must be/],
  ['worker', '--max-memory', ['0', '1e9'], /--max-memory must be/],
  ['worker', '--devices', ['x', ''], /--devices must/],
  ['worker', '--pool', ['fibers'], /argument 'fibers' is invalid/],
  ['dashboard', '--port', ['0', '65536', 'x'], /--port must be/],
];

const queueCases: FuzzCase[] = [
  ...QUEUE_OPTIONS.flatMap(([command, option, values, error]) => values.map((value): FuzzCase => ({
    name: `${command.split(' ')[0]} ${option} ${JSON.stringify(value)}`,
    args: (f) => [...command.split(' ').map((w) => (w === 'job.json' ? f.path('job.json') : w)), option, value, ...NO_REDIS],
    error, code: 2,
  }))),
  { name: 'submit without a job file', args: () => ['submit', ...NO_REDIS], error: /missing required argument 'job'/, code: 2 },
  { name: 'result without --out', args: () => ['result', 'j1', ...NO_REDIS], error: /required option '--out <dir>' not specified/, code: 2 },
  { name: 'cancel without an id', args: () => ['cancel', ...NO_REDIS], error: /missing required argument 'id'/, code: 2 },
];

export const OPTION_CASES: FuzzCase[] = [...runCases, ...pathCases, ...otherCases, ...queueCases];
