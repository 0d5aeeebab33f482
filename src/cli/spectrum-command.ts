/**
 * `backpack-ts spectrum`: eigenvalues, spectral density and trace of the GGN or Hessian of the loss
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

export function registerSpectrumCommand(cli: Command): void {
  cli
    .command('spectrum')
    .description('eigenvalues (Lanczos), spectral density (SLQ) and trace (Hutchinson, Hutch++) of the GGN or Hessian over a data set')
    .requiredOption('--model <file>', 'model.json (torch.nn layer names and attributes)')
    .requiredOption('--weights <file>', 'weights.safetensors, parameters named like an nn.Sequential ("0.weight")')
    .option('--inputs <file>', 'inputs .npy/.safetensors [N, *input_shape] (with --targets)')
    .option('--targets <file>', 'targets .npy/.safetensors: class indices [N] or values [N, *out]')
    .option('--data <path>', 'a data set instead: any file or directory a sweep takes (docs/sweeps.md), rows in file order')
    .option('--max-samples <N>', 'with --data: only the first N rows', positiveInt('--max-samples'))
    .requiredOption('--out <dir>', 'output directory for spectrum.json (and eigenvector files)')
    .addOption(new Option('--curvature <kind>', 'the matrix').choices(['ggn', 'hessian']).default('ggn'))
    .option('--top-k <K>', 'largest eigenvalues (0: none)', nonNegativeInt('--top-k'), 5)
    .option('--bottom-k <K>', 'smallest eigenvalues', nonNegativeInt('--bottom-k'), 0)
    .option('--tol <r>', 'Lanczos stops when every wanted Ritz residual is at most r × the largest |eigenvalue| (default 1e-6)')
    .option('--max-iterations <M>', 'Lanczos steps at most, one product each (default min(n, max(100, 4(top+bottom))))', positiveInt('--max-iterations'))
    .option('--eigenvectors', 'write the eigenvectors to eigenvectors-top/bottom.safetensors ([k, *θ] per parameter)')
    .option('--density', 'spectral density by stochastic Lanczos quadrature')
    .option('--probes <P>', 'SLQ probes (default 10)', positiveInt('--probes'))
    .option('--steps <M>', 'Lanczos steps per SLQ probe (default min(n, 80))', positiveInt('--steps'))
    .option('--grid-points <G>', 'points of the smoothed density (default 256)', positiveInt('--grid-points'))
    .addOption(new Option('--trace <method>', 'trace estimator').choices([...TRACE_METHODS]))
    .option('--trace-products <M>', 'products the trace may use (default 99; at least n: exact)', positiveInt('--trace-products'))
    .option('--seed <K>', 'seed of the probes and start vectors (and of Dropout)', nonNegativeInt('--seed', MAX_SEED), 0)
    .option('--shard-size <S>', `samples per shard (default ${DEFAULT_SHARD_SIZE}); with --batch-size it fixes the summation order, so results do not depend on --workers`, positiveInt('--shard-size'))
    .option('--batch-size <B>', `rows read and placed for the workers at a time (default ${DEFAULT_BATCH_SIZE})`, positiveInt('--batch-size'))
    .option('--vectors-per-pass <V>', 'vectors one pass over the data multiplies at most (default 16)', positiveInt('--vectors-per-pass'))
    .addOption(new Option('--backend <name>', 'tensor backend (auto: cuda, then native, then wasm)').choices([...BACKEND_CHOICES]).default('auto'))
    .option('--threads-per-worker <T>', 'kernel and BLAS threads of each worker (native)', positiveInt('--threads-per-worker'))
    .option('--workers <W>', `worker threads/processes, at most ${MAX_WORKERS} (0: in this process)`, nonNegativeInt('--workers', MAX_WORKERS))
    .addOption(new Option('--pool <kind>', 'worker kind').choices(['threads', 'processes']).default('threads'))
    .option('--shard-timeout <ms>', 'a shard running longer is declared hung and retried', nonNegativeInt('--shard-timeout', MAX_TIMER_MS), 600_000)
    .option('--retries <R>', 'retries of a shard that failed non-deterministically', nonNegativeInt('--retries', 100), 2)
    .option('--queue', 'compute the products as queue jobs for `backpack-ts worker`s (the data is uploaded to Redis once)')
    .option('--redis <url>', 'with --queue: Redis URL (default: $REDIS_URL, else redis://127.0.0.1:6379); passwords: $BACKPACK_REDIS_PASSWORD or --redis-password-file')
    .option('--redis-password-file <file>', 'with --queue: file holding the Redis password (first line)')
    .option('--queue-name <name>', 'with --queue: queue name (default: $BACKPACK_QUEUE, else backpack)')
    .option('--prefix <prefix>', 'with --queue: BullMQ key prefix (default: $BACKPACK_QUEUE_PREFIX, else bp)')
    .option('--quiet', 'no progress output')
    .action(async (opts: SpectrumCommandOptions) => {
      setLogger(stderrLogger(Boolean(opts.quiet)));
      await spectrumCommand(opts);
    });
}
