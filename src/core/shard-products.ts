/**
 * One shard's full-network curvature-vector products, as float64 sums over its samples: the unit of
 * work that `curvatureProducts` (in this thread) and the pools' 'products' tasks (threads,
 * processes, queue) share, so every path computes a shard bit for bit the same way.
 * Shapes: vectors `<param>` → [V, *θ]; result: Partials whose entries `<param>.products` are sums
 * [V, *θ] (Float64Array(V·|θ|), vector-major), merged like any other shard's sums.
 */
import { curvatureVectorProduct, type Curvature } from './curvature-products.ts';
import { disposeShardState, forwardShard, type ShardRequest } from './forward.ts';
import { tf } from './tf.ts';
import { numel, type HostTensor } from '../io/host-tensor.ts';
import type { Network } from '../nn/network.ts';
import { BackpackError, ErrorCode } from '../errors/index.ts';
import { PRODUCTS_FIELD } from '../vocabulary.ts';
import type { Partials } from './partials.ts';

/**
 * Σ over the shard's samples of C·v_k for each of the V stacked vectors (the forward pass runs
 * once). `vectors` holds V·|θ| values per parameter (checked by the callers).
 */
export function shardCurvatureProducts(net: Network, req: ShardRequest, vectors: Map<string, HostTensor>, V: number, curvature: Curvature): Partials {
  const sums = new Map(net.paramNames.map((name) => [name, new Float64Array(V * numel(net.paramShapes[name]))]));
  const state = forwardShard(net, req);
  try {
    for (let k = 0; k < V; k++) {
      tf.tidy(() => {
        const v = new Map(net.paramNames.map((name) => {
          const t = vectors.get(name)!;
          const size = numel(net.paramShapes[name]);
          const part = t.data.subarray(k * size, (k + 1) * size);
          // Library callers may pass float64 vectors; the products run in float32 either way.
          const data = part instanceof Float32Array ? new Float32Array(part) : Float32Array.from(part as Float64Array);
          return [name, tf.tensor(data, net.paramShapes[name])] as const;
        }));
        const products = curvatureVectorProduct(net, state, v, curvature);
        for (const name of net.paramNames) {
          const size = numel(net.paramShapes[name]);
          const got = products.get(name)!.dataSync();
          sums.get(name)!.set(Float64Array.from(got), k * size);
        }
      });
    }
    const entries: Partials['entries'] = {};
    for (const name of net.paramNames) entries[`${name}.${PRODUCTS_FIELD}`] = { kind: 'sum', shape: [V, ...net.paramShapes[name]], data: sums.get(name)! };
    return { count: state.n, loss: state.lossSum.dataSync()[0] * state.rho, entries };
  } finally {
    disposeShardState(state);
  }
}

/** The [V, *θ] sums of parameter `name` in a shard's (or a merge's) products partials. */
export function productSums(p: Pick<Partials, 'entries'>, name: string): Float64Array {
  const entry = p.entries[`${name}.${PRODUCTS_FIELD}`];
  if (entry?.kind !== 'sum') throw new BackpackError(ErrorCode.Internal, `a products shard returned no [V, *θ] sums for '${name}'`, false);
  return entry.data;
}
