/** Malformed SWEEP.json files and unusable output directories: typed errors that say where and why. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setLogger } from '../../src/cli/log.ts';
import { ShapeError, TensorFileError, UnknownExtensionError } from '../../src/errors/index.ts';
import { ModelSpecError } from '../../src/errors/index.ts';
import { parseSweepSpec, readSweepSpec, runSweep, SweepSpecError, SweepStateError } from '../../src/sweep/index.ts';
import { runCli } from '../helpers/cli.ts';
import { exampleSweep, tempDir } from './helpers.ts';

const tmp = tempDir('bp-sweep-spec-');
let file: string;
beforeAll(async () => {
  file = await exampleSweep(tmp.dir, { batchSizes: [40], quantities: ['Variance'], options: { workers: 0, mode: 'accumulate' } }, 40);
});
afterAll(() => tmp.cleanup());
// The CLI installs a stderr logger; the library tests below run silent.
afterEach(() => setLogger(null));

const base = { model: 'model.json', checkpoints: ['checkpoints/step-0.safetensors'], batchSizes: [16], datasets: ['data/inputs.npy'] };

/** [what is wrong, the spec, the error class, a regex its message must match] */
const MALFORMED: [string, unknown, new (...a: never[]) => Error, RegExp][] = [
  ['missing field', { ...base, batchSizes: undefined }, SweepSpecError, /batchSizes: .*expected array/],
  ['non-positive batch size', { ...base, batchSizes: [16, 0] }, SweepSpecError, /batchSizes\[1\]: Too small/],
  ['duplicate batch size', { ...base, batchSizes: [16, 16] }, SweepSpecError, /batchSizes: 16 is listed twice/],
  ['empty checkpoint list', { ...base, checkpoints: [] }, SweepSpecError, /checkpoints: Too small/],
  ['duplicate checkpoint names', { ...base, checkpoints: ['checkpoints/step-0.safetensors', 'other/step-0.safetensors'] }, SweepSpecError, /two checkpoints are named 'step-0'/],
  ['misspelt option', { ...base, options: { maxBatch: 3 } }, SweepSpecError, /options: Unrecognized key: "maxBatch"/],
  ['unknown top-level key', { ...base, quantity: ['Variance'] }, SweepSpecError, /Unrecognized key: "quantity"/],
  ['bad mode', { ...base, options: { mode: 'all' } }, SweepSpecError, /options\.mode: Invalid option/],
  ['bad format', { ...base, options: { format: ['jsonl', 'xml'] } }, SweepSpecError, /options\.format/],
  ['bad backend', { ...base, options: { backend: 'webgpu' } }, SweepSpecError, /options\.backend/],
  ['negative workers', { ...base, options: { workers: -1 } }, SweepSpecError, /options\.workers: Too small/],
  ['dataset without path', { ...base, datasets: [{ split: 'test' }] }, SweepSpecError, /datasets\[0\]/],
  ['unknown quantity', { ...base, quantities: ['Varience'] }, UnknownExtensionError, /unknown extension 'Varience'; valid extensions: BatchGrad/],
  ['vectors needed', { ...base, quantities: ['HMP'] }, SweepSpecError, /quantities: HMP needs vectors/],
  ['KFRA accumulated', { ...base, quantities: ['KFRA'], options: { mode: 'both' } }, SweepSpecError, /KFRA .* cannot be accumulated/],
  ['spectrum on a dataset that is not there', { ...base, spectrum: { dataset: 1 } }, SweepSpecError, /spectrum\.dataset: 1 is not an index into the 1 datasets/],
  ['spectrum with nothing to compute', { ...base, spectrum: { topK: 0, probes: 0 } }, SweepSpecError, /spectrum: nothing to compute/],
  ['misspelt spectrum key', { ...base, spectrum: { topk: 3 } }, SweepSpecError, /spectrum: Unrecognized key: "topk"/],
  ['queue with a password field', { ...base, queue: { password: 'x' } }, SweepSpecError, /queue: Unrecognized key: "password"/],
  ['bad inline model', { ...base, model: { input_shape: [4], layers: [{ type: 'Linear', in_features: 4 }] } }, ModelSpecError, /out_features/],
];

describe('SWEEP.json validation', () => {
  it.each(MALFORMED)('%s', async (_what, raw, Cls, message) => {
    const p = parseSweepSpec(raw, tmp.dir, 'sweep.json');
    await expect(p).rejects.toBeInstanceOf(Cls);
    await expect(p).rejects.toThrow(message);
  });

  it('resolves paths relative to the file and fills the defaults', async () => {
    const spec = await readSweepSpec(file);
    expect(spec.checkpoints[0]).toEqual({ name: 'step-0', path: path.join(tmp.dir, 'checkpoints', 'step-0.safetensors') });
    expect(spec.datasets[0]).toEqual({ path: path.join(tmp.dir, 'data', 'inputs.npy'), name: 'blobs' });
    expect(spec.options).toMatchObject({ backend: 'wasm', seed: 0, shuffle: false, dropLast: false, topK: 10, tensors: true, out: path.join(tmp.dir, 'results') });
  });

  it('the CLI: not JSON, a bad field → exit 2 with the typed error; a missing file names it', async () => {
    const bad = path.join(tmp.dir, 'bad.json');
    writeFileSync(bad, '{ "model": ');
    let r = await runCli(['sweep', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error \[E_USAGE\] SweepSpecError: .*bad\.json: not valid JSON/);
    writeFileSync(bad, JSON.stringify({ ...base, options: { topK: -1 } }));
    r = await runCli(['sweep', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SweepSpecError: .*options\.topK: Too small/);
    r = await runCli(['sweep', path.join(tmp.dir, 'nope.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.json: cannot read: ENOENT/);
  });
});

describe('inputs and output directories', () => {
  it('a missing checkpoint and a dataset of the wrong shape fail before any unit runs', async () => {
    await expect(runSweep(await parseSweepSpec({ ...base, checkpoints: ['checkpoints/step-9.safetensors'] }, tmp.dir), { out: path.join(tmp.dir, 'o1') }))
      .rejects.toThrow(TensorFileError);
    const wrong = { ...base, model: { input_shape: [8], layers: [{ type: 'Linear', in_features: 8, out_features: 2 }], loss: { type: 'CrossEntropyLoss' } } };
    const p = runSweep(await parseSweepSpec(wrong, tmp.dir), { out: path.join(tmp.dir, 'o2') });
    await expect(p).rejects.toThrow(ShapeError);
    await expect(p).rejects.toThrow(/rows of shape \[16\], the model's input_shape is \[8\]/);
  });

  it('an output directory holding another sweep is refused (naming what changed) unless restarted', async () => {
    const out = path.join(tmp.dir, 'o3');
    const spec = await readSweepSpec(file);
    await runSweep(spec, { out });
    const other = await readSweepSpec(file);
    other.batchSizes = [20];
    other.options = { ...other.options, seed: 1 };
    await expect(runSweep(other, { out })).rejects.toThrow(SweepStateError);
    await expect(runSweep(other, { out })).rejects.toThrow(/holds the progress of a different sweep \(changed: batchSizes, settings\); pass --restart/);
    const s = await runSweep(other, { out, restart: true });
    expect(s.computed).toBe(2);
    expect(new Set(s.rows.map((r) => r.batch_size))).toEqual(new Set([20]));
  });

  it('a directory locked by a live process is refused', async () => {
    const out = path.join(tmp.dir, 'o4');
    await runSweep(await readSweepSpec(file), { out });
    writeFileSync(path.join(out, '.lock'), String(process.ppid));
    await expect(runSweep(await readSweepSpec(file), { out })).rejects.toThrow(/being written by another sweep \(pid \d+\)/);
  });
});
