/**
 * The GGN or Hessian of the loss over a whole data set (ρ as for one batch of N) as a symmetric
 * operator on the flattened parameter vector (parameters in `net.paramNames` order, each
 * row-major). Each `apply` of V vectors is one pass over the data computing exact full-network
 * products for all V at once, on a worker pool (the in-process pool for `--workers 0`), summed in
 * float64 in shard order.
 */
import type { Curvature } from '../core/curvature-products.ts';
import type { WorkerPool } from '../coordinator/pool.ts';
import { poolProducts } from '../coordinator/run-products.ts';
import { UsageError } from '../errors/index.ts';
import { numel, type HostTensor } from '../io/host-tensor.ts';
import type { Network } from '../nn/network.ts';
import type { BackendName } from '../vocabulary.ts';
import type { SpectrumData } from './data.ts';
import type { SymmetricOperator } from './operator.ts';

export interface CurvatureOperatorOptions {
  curvature: Curvature;
  /** Samples per shard (default 32). Results are bitwise reproducible for a fixed shard size and batch size, whatever the workers. */
  shardSize?: number;
  backend: BackendName;
  threads?: number;
  /** Seed of train-mode randomness (Dropout) in the forward passes. */
  seed?: number;
  /** Vectors per pass over the data at most (default 16): bounds the vectors each worker holds. */
  vectorsPerPass?: number;
  retries?: number;
  shardTimeoutMs?: number;
  onRetry?: (what: string, attempt: number, reason: string) => void;
}

export const DEFAULT_SHARD_SIZE = 32;

export interface CurvatureOperator extends SymmetricOperator {
  /** Passes over the data so far. */
  passes: number;
  /** The loss over all samples (ρ-scaled), from the latest pass. */
  loss: number;
}

/** The offsets of each parameter in the flat vector. */
export function parameterLayout(net: Network): { name: string; offset: number; size: number; shape: number[] }[] {
  let offset = 0;
  return net.paramNames.map((name) => {
    const size = numel(net.paramShapes[name]);
    const entry = { name, offset, size, shape: net.paramShapes[name] };
    offset += size;
    return entry;
  });
}

export function curvatureOperator(pool: WorkerPool, net: Network, weights: Map<string, HostTensor>, data: SpectrumData, opts: CurvatureOperatorOptions): CurvatureOperator {
  const layout = parameterLayout(net);
  const dim = layout.reduce((a, p) => a + p.size, 0);
  const shardSize = opts.shardSize ?? DEFAULT_SHARD_SIZE;
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new UsageError(`shardSize must be a positive integer, got ${shardSize}`);
  const perPass = opts.vectorsPerPass ?? 16;
  if (!Number.isInteger(perPass) || perPass < 1) throw new UsageError(`vectorsPerPass must be a positive integer, got ${perPass}`);
  const self: CurvatureOperator = {
    dim,
    passes: 0,
    loss: NaN,
    async apply(xs) {
      const out: Float64Array[] = [];
      for (let first = 0; first < xs.length; first += perPass) {
        const chunk = xs.slice(first, first + perPass);
        const V = chunk.length;
        // The products take float32 vectors (the network computes in float32).
        const vectors = new Map(layout.map((p) => {
          const data = new Float32Array(V * p.size);
          chunk.forEach((x, k) => data.set(x.subarray(p.offset, p.offset + p.size), k * p.size));
          return [p.name, { dtype: 'float32', shape: [V, ...p.shape], data } as HostTensor];
        }));
        const r = await poolProducts(pool, net, weights, data, vectors, { ...opts, shardSize });
        self.passes++;
        self.loss = r.loss;
        chunk.forEach((_, k) => {
          const y = new Float64Array(dim);
          for (const p of layout) y.set(r.sums.get(p.name)!.subarray(k * p.size, (k + 1) * p.size), p.offset);
          out.push(y);
        });
      }
      return out;
    },
  };
  return self;
}
