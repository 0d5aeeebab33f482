/**
 * Full-network curvature-vector products (the library API's curvatureProducts): G·v equals
 * Σ_n J_nᵀ ρH_n J_n v with J_n the full autodiff Jacobian (all parameters, cross terms included),
 * and H·v equals the double-autodiff Hessian-vector product ∇⟨∇L, v⟩, on chains and graphs, for
 * every loss; sharding does not change them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { curvatureProducts } from '../../src/api/curvature.ts';
import { useBackend } from '../../src/backends/select.ts';
import { tf } from '../../src/core/tf.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { buildNetwork, type Network } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { mulberry32, randn, randomBatch, randomWeights } from '../helpers/oracle.ts';
import { bind, forwardWith, ggnOracle, oracleLoss, rhoOf, sampleTensors } from '../helpers/second-order-oracle.ts';

const NETS: Record<string, unknown> = {
  'MLP Tanh/ELU': {
    input_shape: [4],
    layers: [{ type: 'Linear', in_features: 4, out_features: 5 }, { type: 'Tanh' }, { type: 'Linear', in_features: 5, out_features: 4 }, { type: 'ELU', alpha: 0.7 }, { type: 'Linear', in_features: 4, out_features: 3 }],
  },
  'CNN conv/maxpool/sigmoid/batchnorm': {
    input_shape: [2, 5, 5],
    layers: [
      { type: 'Conv2d', in_channels: 2, out_channels: 3, kernel_size: 3, padding: 1 }, { type: 'BatchNorm2d', num_features: 3 }, { type: 'Sigmoid' },
      { type: 'MaxPool2d', kernel_size: 2 }, { type: 'Flatten' }, { type: 'Linear', in_features: 12, out_features: 3 },
    ],
  },
  'LayerNorm and GroupNorm': {
    input_shape: [2, 3],
    layers: [
      { type: 'Conv1d', in_channels: 2, out_channels: 4, kernel_size: 2, padding: 1 }, { type: 'GroupNorm', num_groups: 2, num_channels: 4 }, { type: 'Tanh' },
      { type: 'Flatten' }, { type: 'Linear', in_features: 16, out_features: 5 }, { type: 'LayerNorm', normalized_shape: 5 }, { type: 'Linear', in_features: 5, out_features: 3 },
    ],
  },
  'residual graph': {
    input_shape: [4],
    graph: {
      nodes: [
        { name: 'a', layer: { type: 'Linear', in_features: 4, out_features: 4 }, inputs: ['input'] },
        { name: 't', layer: { type: 'Tanh' }, inputs: ['a'] },
        { name: 'b', layer: { type: 'Linear', in_features: 4, out_features: 4 }, inputs: ['t'] },
        { name: 's', op: 'Add', inputs: ['b', 'a'] },
        { name: 'head', layer: { type: 'Linear', in_features: 4, out_features: 3 }, inputs: ['s'] },
      ],
      output: 'head',
    },
  },
};

function setup(name: string, loss: string) {
  const spec = parseModelSpec({ ...(NETS[name] as object), loss: { type: loss, reduction: 'mean' } });
  const net = buildNetwork(spec, randomWeights(spec, mulberry32(11)));
  const { inputs, targets } = randomBatch(net, 3, mulberry32(4));
  const rng = mulberry32(8);
  const vectors = new Map<string, HostTensor>(net.paramNames.map((p) => {
    const shape = net.paramShapes[p];
    return [p, { dtype: 'float32', shape: [2, ...shape], data: randn(rng, 2 * shape.reduce((a, b) => a * b, 1)) }];
  }));
  return { net, inputs, targets, vectors };
}

/** The k-th vector of every parameter, flattened and concatenated. */
function flatVector(net: Network, vectors: Map<string, HostTensor>, k: number): Float64Array {
  const parts = net.paramNames.map((p) => {
    const size = net.paramShapes[p].reduce((a, b) => a * b, 1);
    return Float64Array.from((vectors.get(p)!.data as Float32Array).subarray(k * size, (k + 1) * size));
  });
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Σ_n J_nᵀ ρH_n J_n v over the full parameter vector. */
function ggnOracleProduct(net: Network, inputs: HostTensor, targets: HostTensor, v: Float64Array): Float64Array {
  const out = new Float64Array(v.length);
  for (const s of ggnOracle(net, inputs, targets)) {
    const J = new Float64Array(s.D * v.length); // [D, P_total]
    let off = 0;
    for (const p of net.paramNames) {
      const Jp = s.jac.get(p)!;
      const P = Jp.length / s.D;
      for (let d = 0; d < s.D; d++) J.set(Jp.subarray(d * P, (d + 1) * P), d * v.length + off);
      off += P;
    }
    const Jv = new Float64Array(s.D);
    for (let d = 0; d < s.D; d++) for (let i = 0; i < v.length; i++) Jv[d] += J[d * v.length + i] * v[i];
    const HJv = new Float64Array(s.D);
    for (let a = 0; a < s.D; a++) for (let c = 0; c < s.D; c++) HJv[a] += s.H[a * s.D + c] * Jv[c];
    for (let d = 0; d < s.D; d++) for (let i = 0; i < v.length; i++) out[i] += J[d * v.length + i] * HJv[d];
  }
  return out;
}

/** ∇_θ ⟨∇_θ ρℓ, v⟩ summed over samples, by double autodiff. */
function hvpOracle(net: Network, inputs: HostTensor, targets: HostTensor, vectors: Map<string, HostTensor>, k: number): Float64Array {
  const b = bind(net);
  const rho = rhoOf(net, inputs.shape[0]);
  const v = flatVector(net, vectors, k);
  const out = new Float64Array(v.length);
  for (let n = 0; n < inputs.shape[0]; n++) {
    tf.tidy(() => {
      const { x, y, ctx } = sampleTensors(net, inputs, targets, n);
      const loss = (...ps: tf.Tensor[]) => oracleLoss(net.loss.type, forwardWith(net, b, ps, x, ctx), y).mul(rho) as tf.Scalar;
      let off = 0;
      const vs = b.tensors.map((t, j) => {
        const part = tf.tensor(Float32Array.from(v.subarray(off, off + b.sizes[j])), t.shape);
        off += b.sizes[j];
        return part;
      });
      const inner = (...ps: tf.Tensor[]) => tf.grads(loss)(ps).map((g, j) => g.mul(vs[j]).sum()).reduce((a, c) => a.add(c)) as tf.Scalar;
      let at = 0;
      tf.grads(inner)(b.tensors).forEach((g) => {
        const d = g.dataSync();
        for (let i = 0; i < d.length; i++) out[at + i] += d[i];
        at += d.length;
      });
    });
  }
  return out;
}

const flatResult = (net: Network, r: Map<string, HostTensor>, k: number) => flatVector(net, r, k);

beforeAll(async () => {
  await useBackend('cpu');
});

describe.each(Object.keys(NETS))('%s', (name) => {
  describe.each(['CrossEntropyLoss', 'MSELoss', 'BCEWithLogitsLoss'])('%s', (loss) => {
    const { net, inputs, targets, vectors } = setup(name, loss);

    it('G·v equals Σ Jᵀ ρH J v with the full Jacobian', () => {
      const r = curvatureProducts(net, inputs, targets, vectors, { curvature: 'ggn' });
      for (let k = 0; k < 2; k++) expectClose(flatResult(net, r, k), ggnOracleProduct(net, inputs, targets, flatVector(net, vectors, k)), { rtol: 1e-4, atol: 1e-7, label: `Gv ${k}` });
    });

    it('H·v equals the double-autodiff Hessian-vector product', () => {
      const r = curvatureProducts(net, inputs, targets, vectors, { curvature: 'hessian' });
      for (let k = 0; k < 2; k++) expectClose(flatResult(net, r, k), hvpOracle(net, inputs, targets, vectors, k), { rtol: 2e-4, atol: 1e-6, label: `Hv ${k}` });
    });

    it('H·v differs from G·v where the network is curved (the residual terms matter)', () => {
      const G = flatResult(net, curvatureProducts(net, inputs, targets, vectors, { curvature: 'ggn' }), 0);
      const H = flatResult(net, curvatureProducts(net, inputs, targets, vectors, { curvature: 'hessian' }), 0);
      const scale = Math.max(...G.map(Math.abs));
      expect(Math.max(...H.map((h, i) => Math.abs(h - G[i])))).toBeGreaterThan(1e-3 * scale);
    });

    it('sharding does not change them', () => {
      const one = curvatureProducts(net, inputs, targets, vectors, { curvature: 'hessian' });
      const many = curvatureProducts(net, inputs, targets, vectors, { curvature: 'hessian', shardSize: 1 });
      for (const p of net.paramNames) expectClose(many.get(p)!.data as Float32Array, one.get(p)!.data as Float32Array, { rtol: 1e-5, label: p });
      expect(one.get(net.paramNames[0])!.shape[0]).toBe(2);
    });
  });
});
