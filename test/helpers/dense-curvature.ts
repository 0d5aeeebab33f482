/**
 * Dense curvature matrices of small networks from autodiff alone (the oracles of the spectrum
 * tests): the GGN Σ_n J_nᵀ ρH_n J_n from per-sample full-network Jacobians, and the Hessian of the
 * ρ-scaled loss column by column by double autodiff. Parameters in `net.paramNames` order, each
 * row-major; matrices row-major P×P, float64. Plus a self-checked dense eigensolver's results.
 */
import { tf } from '../../src/core/tf.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import type { Network } from '../../src/nn/network.ts';
import { bind, forwardWith, ggnOracle, oracleLoss, rhoOf, sampleTensors } from './second-order-oracle.ts';

export function denseGGN(net: Network, inputs: HostTensor, targets: HostTensor): { G: Float64Array; P: number } {
  const samples = ggnOracle(net, inputs, targets);
  const P = net.paramNames.reduce((a, p) => a + samples[0].jac.get(p)!.length / samples[0].D, 0);
  const G = new Float64Array(P * P);
  for (const s of samples) {
    const J = new Float64Array(s.D * P);
    let off = 0;
    for (const p of net.paramNames) {
      const Jp = s.jac.get(p)!;
      const size = Jp.length / s.D;
      for (let d = 0; d < s.D; d++) J.set(Jp.subarray(d * size, (d + 1) * size), d * P + off);
      off += size;
    }
    const HJ = new Float64Array(s.D * P);
    for (let a = 0; a < s.D; a++) for (let c = 0; c < s.D; c++) for (let i = 0; i < P; i++) HJ[a * P + i] += s.H[a * s.D + c] * J[c * P + i];
    for (let d = 0; d < s.D; d++) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) G[i * P + j] += J[d * P + i] * HJ[d * P + j];
  }
  symmetrise(G, P); // the autodiff loss Hessians are symmetric up to float32 rounding only
  return { G, P };
}

export function denseHessian(net: Network, inputs: HostTensor, targets: HostTensor): { H: Float64Array; P: number } {
  const b = bind(net);
  const P = b.sizes.reduce((a, s) => a + s, 0);
  const N = inputs.shape[0];
  const rho = rhoOf(net, N);
  const H = new Float64Array(P * P);
  const samples = Array.from({ length: N }, (_, n) => sampleTensors(net, inputs, targets, n));
  const loss = (...ps: tf.Tensor[]) => samples.map(({ x, y, ctx }) => oracleLoss(net.loss.type, forwardWith(net, b, ps, x, ctx), y)).reduce((a, c) => a.add(c)).mul(rho) as tf.Scalar;
  for (let col = 0; col < P; col++) {
    tf.tidy(() => {
      let at = 0;
      const e = b.tensors.map((t, j) => {
        const data = new Float32Array(b.sizes[j]);
        if (col >= at && col < at + b.sizes[j]) data[col - at] = 1;
        at += b.sizes[j];
        return tf.tensor(data, t.shape);
      });
      const inner = (...ps: tf.Tensor[]) => tf.grads(loss)(ps).map((g, j) => g.mul(e[j]).sum()).reduce((a, c) => a.add(c)) as tf.Scalar;
      let off = 0;
      for (const g of tf.grads(inner)(b.tensors)) {
        const d = g.dataSync();
        for (let i = 0; i < d.length; i++) H[(off + i) * P + col] = d[i];
        off += d.length;
      }
    });
  }
  symmetrise(H, P); // the columns are symmetric up to float32 rounding only
  for (const s of samples) tf.dispose([s.x, s.y]);
  return { H, P };
}

function symmetrise(A: Float64Array, P: number): void {
  for (let i = 0; i < P; i++) for (let j = 0; j < i; j++) A[i * P + j] = A[j * P + i] = (A[i * P + j] + A[j * P + i]) / 2;
}

export const matVec = (A: Float64Array, P: number, x: Float64Array): Float64Array => Float64Array.from({ length: P }, (_, i) => {
  let s = 0;
  for (let j = 0; j < P; j++) s += A[i * P + j] * x[j];
  return s;
});

export function matMul(A: Float64Array, B: Float64Array, P: number): Float64Array {
  const C = new Float64Array(P * P);
  for (let i = 0; i < P; i++) for (let k = 0; k < P; k++) {
    const a = A[i * P + k];
    if (a !== 0) for (let j = 0; j < P; j++) C[i * P + j] += a * B[k * P + j];
  }
  return C;
}

export const traceOf = (A: Float64Array, P: number): number => Array.from({ length: P }, (_, i) => A[i * P + i]).reduce((a, b) => a + b, 0);

/** Rademacher variance of zᵀAz: 2(‖A‖_F² − Σ A_ii²). */
export function hutchinsonVariance(A: Float64Array, P: number): number {
  let fro = 0;
  let diag = 0;
  for (let i = 0; i < P * P; i++) fro += A[i] ** 2;
  for (let i = 0; i < P; i++) diag += A[i * P + i] ** 2;
  return 2 * (fro - diag);
}
