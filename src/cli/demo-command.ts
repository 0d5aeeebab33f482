/**
 * `npm run demo`: the main job on bundled models (examples/) and generated data, no arguments,
 * no network. Prints a per-layer table and where the results went.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBatch } from '../api/run.ts';
import { useBackend } from '../backends/select.ts';
import { blobs, initWeights } from '../data/synthetic.ts';
import { writeResults } from '../io/results.ts';
import { buildNetwork, disposeNetwork } from '../nn/network.ts';
import { parseModelSpecText } from '../nn/parse-spec.ts';
import { EXTENSION_NAMES } from '../vocabulary.ts';
import { formatLayerTable } from './layer-table.ts';

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples');
const DEMO_JOBS = [
  { name: 'mlp', N: 256, shardSize: 64 },
  { name: 'cnn', N: 128, shardSize: 32 },
];

export async function demoCommand(opts: { out: string; backend: string }): Promise<void> {
  const backend = await useBackend(opts.backend);
  for (const job of DEMO_JOBS) {
    const file = path.join(EXAMPLES, job.name, 'model.json');
    const spec = parseModelSpecText(await readFile(file, 'utf8'), file);
    const net = buildNetwork(spec, initWeights(spec, 0));
    const { inputs, targets } = blobs(spec, job.N, 10);
    const t0 = performance.now();
    const result = runBatch(net, inputs, targets, { extensions: [...EXTENSION_NAMES], shardSize: job.shardSize });
    const ms = performance.now() - t0;
    const outDir = path.join(opts.out, job.name);
    await writeResults(outDir, result.results, {
      loss: result.loss, N: result.N, backend, extensions: [...EXTENSION_NAMES], shards: result.shards, timings: { totalMs: ms },
    });
    process.stdout.write(`\n${job.name}: ${file}\n  N=${job.N} in ${result.shards} shards of ${job.shardSize}, backend ${backend}, loss ${result.loss.toFixed(5)}, ${ms.toFixed(0)} ms\n`);
    process.stdout.write(formatLayerTable(net.paramNames, result.results, job.N));
    process.stdout.write(`  results: ${path.join(outDir, 'results.safetensors')} (+ summary.json)\n`);
    disposeNetwork(net);
  }
}
