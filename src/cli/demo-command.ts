/**
 * `npm run demo`: the main job on bundled models (examples/) and generated data, no arguments,
 * no network. Prints a per-layer table and where the results went.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../package-root.ts';
import { availableParallelism } from 'node:os';
import { chooseBackend } from '../backends/choose.ts';
import { useBackend } from '../backends/select.ts';
import { createPool } from '../coordinator/create-pool.ts';
import { runJobOnPool } from '../coordinator/run-job.ts';
import { blobs, initWeights } from '../data/synthetic.ts';
import { writeResults } from '../io/results.ts';
import { buildNetwork, disposeNetwork } from '../nn/network.ts';
import { parseModelSpecText } from '../nn/parse-spec.ts';
import { FIRST_ORDER, type BackendName } from '../vocabulary.ts';
import type { WorkerPool } from '../coordinator/pool.ts';
import { formatLayerTable } from './layer-table.ts';

const EXAMPLES = path.join(PACKAGE_ROOT, 'examples');
const DEMO_JOBS = [
  { name: 'mlp', N: 256, shardSize: 64 },
  { name: 'cnn', N: 128, shardSize: 32 },
];

const EXTENSIONS = [...FIRST_ORDER, 'GradientNoiseScale'] as const;

export async function demoCommand(opts: { out: string; backend: string; workers?: number }): Promise<void> {
  const workers = opts.workers ?? availableParallelism();
  const { backend, threadsPerWorker } = await chooseBackend(opts.backend, workers);
  await useBackend(backend);
  const pool = createPool('threads', workers);
  try {
    for (const job of DEMO_JOBS) await demoJob(job, opts.out, backend, threadsPerWorker, pool);
  } finally {
    await pool.close();
  }
}

async function demoJob(job: (typeof DEMO_JOBS)[number], out: string, backend: BackendName, threads: number, pool: WorkerPool): Promise<void> {
  {
    const file = path.join(EXAMPLES, job.name, 'model.json');
    const spec = parseModelSpecText(await readFile(file, 'utf8'), file);
    const weights = initWeights(spec, 0);
    const net = buildNetwork(spec, weights);
    const { inputs, targets } = blobs(spec, job.N, 10);
    const t0 = performance.now();
    const result = await runJobOnPool(pool, { spec, weights, inputs, targets }, { backend, threads, extensions: [...EXTENSIONS], shardSize: job.shardSize, network: net });
    const ms = performance.now() - t0;
    const outDir = path.join(out, job.name);
    await writeResults(outDir, result.results, {
      loss: result.loss, N: result.N, backend, extensions: [...EXTENSIONS], shards: result.shards, workers: pool.size, pool: pool.kind, timings: { totalMs: ms },
    });
    const gns = result.results.get('gradient_noise_scale')!.data[0] as number;
    const gradSq = result.results.get('gradient_noise_scale.grad_norm_sq')!.data[0] as number;
    // The unbiased |G|² estimate can be ≤ 0 when noise dominates; B_simple is then meaningless.
    const gnsText = gradSq > 0 ? gns.toFixed(1) : 'n/a (noise dominates: |G|² estimate ≤ 0; aggregate over batches)';
    process.stdout.write(`\n${job.name}: ${file}\n  N=${job.N} in ${result.shards} shards of ${job.shardSize} on ${pool.size} worker threads, backend ${backend}, loss ${result.loss.toFixed(5)}, gradient noise scale ${gnsText}, ${ms.toFixed(0)} ms\n`);
    process.stdout.write(formatLayerTable(net.paramNames, result.results, job.N));
    process.stdout.write(`  results: ${path.join(outDir, 'results.safetensors')} (+ summary.json)\n`);
    disposeNetwork(net);
  }
}
