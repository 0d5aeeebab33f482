/**
 * Full-network curvature-vector products in the library API: G·v (generalised Gauss-Newton) and
 * H·v (Hessian) of the ρ-scaled batch loss, exact, summed over shards in float64. The block
 * (per-parameter) products are the GGNMP/HMP quantities of runBatch.
 */
import type { Curvature } from '../core/curvature-products.ts';
import { productSums, shardCurvatureProducts } from '../core/shard-products.ts';
import { planShards } from '../core/backprop.ts';
import { sliceRows } from '../core/inputs.ts';
import { ShapeError, UsageError } from '../errors/index.ts';
import { numel, type HostTensor } from '../io/host-tensor.ts';
import type { Network } from '../nn/network.ts';

export interface CurvatureProductOptions {
  curvature: Curvature;
  shardSize?: number;
  seed?: number;
}

/**
 * C·v for each of V stacked vectors: `vectors` maps every parameter name to [V, *θ] (or [*θ] for
 * one vector); the result maps it to [V, *θ].
 */
export function curvatureProducts(net: Network, inputs: HostTensor, targets: HostTensor, vectors: Map<string, HostTensor>, opts: CurvatureProductOptions): Map<string, HostTensor> {
  const N = inputs.shape[0];
  if (targets.shape[0] !== N) throw new ShapeError(`inputs have ${N} samples but targets have ${targets.shape[0]}`);
  let V = -1;
  for (const name of net.paramNames) {
    const t = vectors.get(name);
    const shape = net.paramShapes[name];
    if (!t) throw new ShapeError(`no vector for parameter '${name}' (expected [V, ${shape.join(', ')}])`);
    const stacked = t.shape.length === shape.length + 1;
    const v = stacked ? t.shape[0] : 1;
    const rest = stacked ? t.shape.slice(1) : t.shape;
    if (rest.length !== shape.length || rest.some((d, i) => d !== shape[i])) throw new ShapeError(`vector '${name}' has shape [${t.shape.join(', ')}], expected [V, ${shape.join(', ')}]`);
    if (V >= 0 && v !== V) throw new ShapeError(`vector '${name}' stacks ${v} vectors, others ${V}`);
    V = v;
  }
  const sums = new Map(net.paramNames.map((name) => [name, new Float64Array(V * numel(net.paramShapes[name]))]));
  const plan = planShards(N, opts.shardSize ?? N);
  plan.forEach((s, shardId) => {
    const req = {
      shardId, inputs: sliceRows(inputs, s.offset, s.count), targets: sliceRows(targets, s.offset, s.count),
      offset: s.offset, N, extensions: [], seed: opts.seed ?? 0,
    };
    const shard = shardCurvatureProducts(net, req, vectors, V, opts.curvature);
    for (const name of net.paramNames) {
      const sum = sums.get(name)!;
      const got = productSums(shard, name);
      for (let j = 0; j < sum.length; j++) sum[j] += got[j];
    }
  });
  return new Map(net.paramNames.map((name) => [name, { dtype: 'float32', shape: [V, ...net.paramShapes[name]], data: new Float32Array(sums.get(name)!) } as HostTensor]));
}

