/**
 * Writes a ready-to-submit example job (docs/queue.md): the bundled MLP (examples/mlp), generated
 * weights and a learnable dataset, and job.json. Usage: node --import tsx queue/example-job.ts DIR [N]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/package-root.ts';
import { blobs, initWeights } from '../src/data/synthetic.ts';
import { writeNpyFile, writeSafetensorsFile } from '../src/io/tensor-file.ts';
import { parseModelSpecText } from '../src/nn/parse-spec.ts';

const MODEL = path.join(PACKAGE_ROOT, 'examples/mlp/model.json');

async function main(dir: string, N: number): Promise<void> {
  const text = await readFile(MODEL, 'utf8');
  const spec = parseModelSpecText(text, MODEL);
  const { inputs, targets } = blobs(spec, N, 10);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.json'), text);
  await writeSafetensorsFile(path.join(dir, 'weights.safetensors'), initWeights(spec, 0));
  await writeNpyFile(path.join(dir, 'inputs.npy'), inputs);
  await writeNpyFile(path.join(dir, 'targets.npy'), targets);
  const job = {
    name: 'mlp-example',
    model: 'model.json',
    weights: 'weights.safetensors',
    inputs: 'inputs.npy',
    targets: 'targets.npy',
    extensions: ['Variance', 'BatchL2Grad', 'GradientNoiseScale'],
    options: { shardSize: 512, seed: 0 },
  };
  await writeFile(path.join(dir, 'job.json'), `${JSON.stringify(job, null, 2)}\n`);
  process.stdout.write(`wrote ${path.join(dir, 'job.json')} (N=${N}, ${Math.ceil(N / 512)} shards of 512) with model.json, weights.safetensors, inputs.npy, targets.npy\n`);
}

const [dir, n] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: node --import tsx queue/example-job.ts DIR [N]\n');
  process.exitCode = 2;
} else {
  await main(dir, n ? Number(n) : 4096);
}
