/** `backpack-ts run`: the CLI contract (see README). Loads files, runs the job, writes results. */
import { availableParallelism } from 'node:os';
import { runBatch, type RunResult } from '../api/run.ts';
import { checkVectors } from '../api/vectors.ts';
import { useBackend } from '../backends/select.ts';
import { createPool } from '../coordinator/create-pool.ts';
import { runJobOnPool } from '../coordinator/run-job.ts';
import { parseExtensionList } from '../extensions/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { writeResults, type Summary } from '../io/results.ts';
import { readTensorFile, readTensorMap } from '../io/tensor-file.ts';
import { buildNetwork, disposeNetwork } from '../nn/network.ts';
import { readModelSpec } from '../nn/parse-spec.ts';
import type { ModelSpec } from '../nn/spec.ts';
import { log } from './log.ts';
import { progressBar } from './progress.ts';

export interface RunCommandOptions {
  model: string;
  weights: string;
  inputs: string;
  targets: string;
  extensions?: string;
  out: string;
  backend: string;
  shardSize?: number;
  seed: number;
  subsampling?: number[];
  mcSamples?: number;
  vectors?: string;
  /** 0 runs every shard in this process; W ≥ 1 uses a pool of W workers. */
  workers?: number;
  pool?: 'threads' | 'processes';
  devices?: number[];
  shardTimeout?: number;
  retries?: number;
  quiet?: boolean;
}

interface Loaded {
  spec: ModelSpec;
  weights: Map<string, HostTensor>;
  inputs: HostTensor;
  targets: HostTensor;
  vectors?: Map<string, HostTensor>;
}

async function load(opts: RunCommandOptions): Promise<Loaded> {
  const spec = await readModelSpec(opts.model);
  const weights = await readTensorMap(opts.weights);
  const inputs = await readTensorFile(opts.inputs);
  const targets = await readTensorFile(opts.targets);
  return { spec, weights, inputs, targets };
}

export async function runCommand(opts: RunCommandOptions): Promise<Summary> {
  const t0 = performance.now();
  const extensions = parseExtensionList(opts.extensions ?? '');
  const backend = await useBackend(opts.backend);
  const job = await load(opts);
  // Build once here: validates the spec and weights before any worker starts.
  const net = buildNetwork(job.spec, job.weights);
  if (opts.vectors) job.vectors = checkVectors(await readTensorMap(opts.vectors), net.paramShapes, opts.vectors);
  const workers = opts.devices?.length ?? opts.workers ?? availableParallelism();
  const t1 = performance.now();
  const settings = { extensions, shardSize: opts.shardSize, subsampling: opts.subsampling, seed: opts.seed, mcSamples: opts.mcSamples, vectors: job.vectors };
  let result: RunResult;
  const bar = progressBar(!opts.quiet);
  try {
    if (workers === 0) {
      result = runBatch(net, job.inputs, job.targets, { ...settings, onShard: (done, total) => log.info(`shard ${done}/${total} done`) });
    } else {
      const pool = createPool(opts.devices ? 'processes' : (opts.pool ?? 'threads'), workers, opts.devices);
      try {
        result = await runJobOnPool(pool, job, {
          ...settings,
          backend,
          shardTimeoutMs: opts.shardTimeout,
          retries: opts.retries,
          onProgress: (p) => bar.update(p),
          onRetry: (what, attempt, reason) => log.warn(`${what}: retry ${attempt} after: ${reason}`),
        });
      } finally {
        bar.stop();
        await pool.close();
      }
    }
  } finally {
    disposeNetwork(net);
  }
  const t2 = performance.now();
  const summary = await writeResults(opts.out, result.results, {
    loss: result.loss,
    N: result.N,
    backend,
    extensions,
    shards: result.shards,
    workers,
    pool: workers === 0 ? 'in-process' : opts.devices ? 'processes' : (opts.pool ?? 'threads'),
    seed: opts.seed,
    mcSamples: opts.mcSamples ?? 1,
    subsampling: opts.subsampling ?? null,
    timings: { loadMs: t1 - t0, computeMs: result.timings.computeMs, reduceMs: result.timings.reduceMs, totalMs: t2 - t0 },
  });
  log.info(`loss ${result.loss.toPrecision(8)} over N=${result.N}; wrote ${result.results.size} tensors to ${opts.out}/results.safetensors`);
  return summary;
}
