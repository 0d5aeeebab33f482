/**
 * What `backpack-ts spectrum` does (its options are defined in spectrum-command.ts, which loads
 * this file only when the command runs). `backpack-ts spectrum`: eigenvalues, spectral density and trace of the GGN or Hessian of the loss
 * over a whole data set (docs/spectrum.md). Loads like `run` (model, weights, inputs/targets) or
 * like a sweep's dataset (--data), checks every option before any worker starts, writes
 * OUT/spectrum.json and, with --eigenvectors, the eigenvectors as safetensors.
 */
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import { chooseBackend } from '../backends/choose.ts';
import { useBackend } from '../backends/select.ts';
import { createPool } from '../coordinator/create-pool.ts';
import { createInProcessPool } from '../coordinator/in-process-pool.ts';
import type { WorkerPool } from '../coordinator/pool.ts';
import { openDataset } from '../data/dataset.ts';
import { UsageError } from '../errors/index.ts';
import { numel } from '../io/host-tensor.ts';
import { readTensorFile, readTensorMap } from '../io/tensor-file.ts';
import { buildNetwork, disposeNetwork, type Network } from '../nn/network.ts';
import { checkedInputs, checkTargets } from '../core/inputs.ts';
import { readModelSpec } from '../nn/parse-spec.ts';
import { curvatureOperator, DEFAULT_SHARD_SIZE, type CurvatureOperator } from '../spectrum/curvature-operator.ts';
import { datasetData, DEFAULT_BATCH_SIZE, holdAll, tensorData, type SpectrumData } from '../spectrum/data.ts';
import type { SpectrumProgress } from '../spectrum/progress.ts';
import { checkPlan, runSpectrum, TRACE_METHODS, type SpectrumPlan, type TraceMethod } from '../spectrum/run-spectrum.ts';
import { writeSpectrum } from '../spectrum/output.ts';
import { BACKEND_CHOICES } from '../vocabulary.ts';
import { connectionFromOptions } from '../../queue/connection.ts';
import { QueueContext } from '../../queue/context.ts';
import { QueueProductsSession } from '../../queue/spectrum-session.ts';
import { log, setLogger, stderrLogger } from './log.ts';
import { MAX_SEED, MAX_TIMER_MS, MAX_WORKERS, nonNegativeInt, positiveInt } from './options.ts';
import { prepareOutDir } from './out-dir.ts';

export interface SpectrumCommandOptions {
  model: string;
  weights: string;
  inputs?: string;
  targets?: string;
  data?: string;
  maxSamples?: number;
  out: string;
  curvature: 'ggn' | 'hessian';
  topK: number;
  bottomK: number;
  tol?: string;
  maxIterations?: number;
  eigenvectors?: boolean;
  density?: boolean;
  probes?: number;
  steps?: number;
  gridPoints?: number;
  trace?: TraceMethod;
  traceProducts?: number;
  seed: number;
  shardSize?: number;
  batchSize?: number;
  vectorsPerPass?: number;
  backend: string;
  threadsPerWorker?: number;
  workers?: number;
  pool?: 'threads' | 'processes';
  shardTimeout?: number;
  retries?: number;
  quiet?: boolean;
  /** Products as queue jobs for `backpack-ts worker`s (docs/spectrum.md: over the queue). */
  queue?: boolean;
  redis?: string;
  queueName?: string;
  prefix?: string;
  redisPasswordFile?: string;
}

function positiveNumber(option: string, value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || v <= 0) throw new UsageError(`${option} must be a positive number, got '${value}'`);
  return v;
}

/** The methods asked for, with every option that needs another one checked. */
export function planOf(o: SpectrumCommandOptions): SpectrumPlan {
  const eigen = o.topK + o.bottomK > 0;
  if (!eigen && (o.eigenvectors || o.maxIterations !== undefined || o.tol !== undefined)) {
    throw new UsageError('--eigenvectors, --max-iterations and --tol need eigenvalues: --top-k or --bottom-k above 0');
  }
  if (!o.density && (o.probes !== undefined || o.steps !== undefined || o.gridPoints !== undefined)) throw new UsageError('--probes, --steps and --grid-points need --density');
  if (!o.trace && o.traceProducts !== undefined) throw new UsageError('--trace-products needs --trace hutchinson|hutchpp');
  if (!o.queue && (o.redis !== undefined || o.queueName !== undefined || o.prefix !== undefined || o.redisPasswordFile !== undefined)) {
    throw new UsageError('--redis, --redis-password-file, --queue-name and --prefix need --queue');
  }
  if (!eigen && !o.density && !o.trace) throw new UsageError('nothing to compute: --top-k/--bottom-k above 0, --density or --trace');
  return {
    eigen: eigen ? { top: o.topK, bottom: o.bottomK, tol: o.tol === undefined ? undefined : positiveNumber('--tol', o.tol), maxIterations: o.maxIterations, eigenvectors: Boolean(o.eigenvectors) } : undefined,
    density: o.density ? { probes: o.probes, steps: o.steps, gridPoints: o.gridPoints } : undefined,
    trace: o.trace ? { method: o.trace, products: o.traceProducts ?? 99 } : undefined,
    seed: o.seed,
  };
}

/**
 * Batches hold whole shards (the batch size rounded up to a multiple of the shard size): the shard
 * plan is then planShards(N, shardSize) whatever the batch size, the same on a local pool and on
 * the queue, so the two give bitwise the same spectrum.
 */
async function loadData(o: SpectrumCommandOptions, net: Network, shardSize: number): Promise<{ data: SpectrumData; source: string }> {
  const batchSize = Math.ceil((o.batchSize ?? DEFAULT_BATCH_SIZE) / shardSize) * shardSize;
  if (o.data !== undefined) {
    if (o.inputs !== undefined || o.targets !== undefined) throw new UsageError('give the data either as --data or as --inputs and --targets, not both');
    const ds = await openDataset(o.data);
    return { data: datasetData(ds, batchSize, o.maxSamples), source: o.data };
  }
  if (o.inputs === undefined || o.targets === undefined) throw new UsageError('the data is missing: --inputs and --targets (tensor files), or --data (a data set)');
  if (o.maxSamples !== undefined) throw new UsageError('--max-samples applies to --data; slice the tensor files instead');
  const inputs = await readTensorFile(o.inputs);
  const targets = await readTensorFile(o.targets);
  // The whole tensors, before any worker starts (the messages then name the files' shapes).
  checkedInputs(inputs, net.inputShape, 'inputs');
  checkTargets(net, targets);
  return { data: tensorData(inputs, targets, batchSize), source: `${o.inputs} + ${o.targets}` };
}

/** Progress on stderr, at most one line every 2 s. */
function progressLog(quiet: boolean): (p: SpectrumProgress) => void {
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (quiet || now - last < 2000) return;
    last = now;
    const res = p.residual !== undefined && Number.isFinite(p.residual) ? `, residual ${p.residual.toExponential(2)}` : '';
    log.info(`${p.method}: ${p.step}/${p.maxSteps}, ${p.products} products${res}`);
  };
}

export async function spectrumCommand(o: SpectrumCommandOptions): Promise<string[]> {
  const t0 = performance.now();
  const plan = planOf(o);
  const workers = o.workers ?? Math.min(MAX_WORKERS, availableParallelism());
  const { backend, library, threadsPerWorker: threads } = await chooseBackend(o.backend, workers, o.threadsPerWorker);
  await useBackend(backend, { threads: workers === 0 ? threads : 1 });
  const spec = await readModelSpec(o.model);
  const out = await prepareOutDir(o.out);
  let pool: WorkerPool | null = null;
  let queue: QueueContext | null = null;
  let session: QueueProductsSession | null = null;
  try {
    const weights = await readTensorMap(o.weights);
    const net = buildNetwork(spec, weights);
    try {
      const shardSize = o.shardSize ?? DEFAULT_SHARD_SIZE;
      const { data, source } = await loadData(o, net, shardSize);
      checkPlan(plan, net.paramNames.reduce((a, p) => a + numel(net.paramShapes[p]), 0));
      const settings = { curvature: o.curvature, shardSize, backend, seed: o.seed, vectorsPerPass: o.vectorsPerPass };
      let op: CurvatureOperator;
      if (o.queue) {
        queue = await QueueContext.open(connectionFromOptions({ redis: o.redis, queue: o.queueName, prefix: o.prefix, redisPasswordFile: o.redisPasswordFile }));
        const { inputs, targets } = await holdAll(data);
        session = await QueueProductsSession.open(queue, net, weights, inputs, targets, settings);
        log.info(`products session ${session.jobId} on queue '${queue.settings.queue}': start \`backpack-ts worker\`s on it`);
        op = session;
      } else {
        pool = workers === 0 ? createInProcessPool() : createPool(o.pool ?? 'threads', workers);
        op = curvatureOperator(pool, net, weights, data, {
          ...settings, threads, retries: o.retries, shardTimeoutMs: o.shardTimeout, onRetry: (what, attempt, reason) => log.warn(`${what}: retry ${attempt} after: ${reason}`),
        });
      }
      const r = await runSpectrum(op, { ...plan, onProgress: progressLog(Boolean(o.quiet)) });
      const files = await writeSpectrum(out.dir, net, r, {
        model: o.model, weights: o.weights, data: source, N: data.N, curvature: o.curvature, loss: op.loss,
        shardSize, batchSize: data.batchSize, backend, backendLibrary: library, workers: o.queue ? 'queue' : workers, passes: op.passes,
        timings: { totalMs: performance.now() - t0 },
      });
      const top = r.eigen?.top.map((p) => p.value.toPrecision(6)).join(', ');
      log.info(`${o.curvature} over N=${data.N}, n=${r.dimension} parameters: ${r.products} products in ${op.passes} passes${top ? `; top eigenvalues ${top}` : ''}${r.trace ? `; trace ${r.trace.estimate.toPrecision(6)} ± ${r.trace.errorBound.toPrecision(2)}` : ''}`);
      process.stdout.write(`${files.join('\n')}\n`);
      return files;
    } finally {
      disposeNetwork(net);
    }
  } catch (e) {
    await out.discard();
    throw e;
  } finally {
    await session?.close();
    await queue?.close();
    await pool?.close();
  }
}
