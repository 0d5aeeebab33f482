/** `backpack-ts run`: the CLI contract (see README). Loads files, runs the job, writes results. */
import { runBatch } from '../api/run.ts';
import { useBackend } from '../backends/select.ts';
import { parseExtensionList } from '../extensions/index.ts';
import { readTensorFile, readTensorMap } from '../io/tensor-file.ts';
import { writeResults, type Summary } from '../io/results.ts';
import { buildNetwork, disposeNetwork } from '../nn/network.ts';
import { readModelSpec } from '../nn/parse-spec.ts';
import { log } from './log.ts';
import { checkVectors } from '../api/vectors.ts';

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
}

export async function runCommand(opts: RunCommandOptions): Promise<Summary> {
  const t0 = performance.now();
  const extensions = parseExtensionList(opts.extensions ?? '');
  const backend = await useBackend(opts.backend);
  const spec = await readModelSpec(opts.model);
  const net = buildNetwork(spec, await readTensorMap(opts.weights));
  const inputs = await readTensorFile(opts.inputs);
  const targets = await readTensorFile(opts.targets);
  const vectors = opts.vectors ? checkVectors(await readTensorMap(opts.vectors), net.paramShapes, opts.vectors) : undefined;
  const t1 = performance.now();
  try {
    const result = runBatch(net, inputs, targets, {
      extensions,
      shardSize: opts.shardSize,
      subsampling: opts.subsampling,
      seed: opts.seed,
      mcSamples: opts.mcSamples,
      vectors,
      onShard: (done, total) => log.info(`shard ${done}/${total} done`),
    });
    const t2 = performance.now();
    const summary = await writeResults(opts.out, result.results, {
      loss: result.loss,
      N: result.N,
      backend,
      extensions,
      shards: result.shards,
      seed: opts.seed,
      mcSamples: opts.mcSamples ?? 1,
      subsampling: opts.subsampling ?? null,
      timings: { loadMs: t1 - t0, computeMs: result.timings.computeMs, reduceMs: result.timings.reduceMs, totalMs: t2 - t0 },
    });
    log.info(`loss ${result.loss.toPrecision(8)} over N=${result.N}; wrote ${result.results.size} tensors to ${opts.out}/results.safetensors`);
    return summary;
  } finally {
    disposeNetwork(net);
  }
}
