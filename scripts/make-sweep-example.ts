/**
 * Generates the data and checkpoints of examples/sweep/ (nothing binary is committed):
 *
 *   node --import tsx scripts/make-sweep-example.ts [OUTDIR]      (default out/sweep-example)
 *
 * writes OUTDIR/model.json and OUTDIR/sweep.json (copies of examples/sweep/), OUTDIR/data/
 * {inputs,targets}.npy (256 samples of a 4-class blob problem, 16 features) and
 * OUTDIR/checkpoints/step-{0,40}.safetensors (PyTorch-default init, then 40 SGD steps). Then:
 *
 *   npx backpack-ts sweep OUTDIR/sweep.json && npx backpack-ts report OUTDIR/results
 */
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { useBackend } from '../src/backends/select.ts';
import { blobs, initWeights } from '../src/data/synthetic.ts';
import { isMain, readSpec, ROOT, sgdCheckpoints, writeCheckpoints, writeNpyDataset } from './common.ts';

export const EXAMPLE_DIR = path.join(ROOT, 'examples', 'sweep');

export interface ExampleOptions {
  /** Samples in the dataset (default 256). */
  N?: number;
  /** SGD steps between the two checkpoints (default 40; must match sweep.json's names if you use it). */
  steps?: number;
}

/** Writes the example into `dir`; returns the path of its sweep.json. */
export async function makeSweepExample(dir: string, o: ExampleOptions = {}): Promise<string> {
  const steps = o.steps ?? 40;
  await mkdir(path.join(dir, 'data'), { recursive: true });
  await mkdir(path.join(dir, 'checkpoints'), { recursive: true });
  for (const f of ['model.json', 'sweep.json']) await copyFile(path.join(EXAMPLE_DIR, f), path.join(dir, f));
  const spec = await readSpec(path.join(EXAMPLE_DIR, 'model.json'));
  const data = blobs(spec, o.N ?? 256, 4, 7);
  await writeNpyDataset(path.join(dir, 'data'), data, 'blobs');
  await useBackend('wasm');
  const saved = sgdCheckpoints(spec, initWeights(spec, 0), data, { steps, lr: 0.05, batchSize: 32, saveAt: [0, steps] });
  await writeCheckpoints(path.join(dir, 'checkpoints'), saved);
  return path.join(dir, 'sweep.json');
}

if (isMain(import.meta.url)) {
  const dir = path.resolve(process.argv[2] ?? 'out/sweep-example');
  const file = await makeSweepExample(dir);
  const shown = path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file);
  process.stdout.write(`wrote ${file} (+ data/, checkpoints/)\nnext: npx backpack-ts sweep ${shown}\n`);
}
