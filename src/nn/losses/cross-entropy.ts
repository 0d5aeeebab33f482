/**
 * CrossEntropyLoss on logits f [n, C] or torch's K-dimensional form f [n, C, d1, …] with targets
 * [n, d1, …]: every position is a classification of its own, ℓ_n = Σ_x (logsumexp(f_nx) − f_nx[y_nx]),
 * and 'mean' averages over samples and positions (ρ = 1/(N·P), P = Π d, as torch and BackPACK).
 * The math runs on "rows" — one per (sample, position), classes last — then returns to f's layout.
 *   ∂ℓ/∂f_nx = softmax(f_nx) − e_{y_nx};   soft labels (class probabilities, torch ≥ 1.10):
 *   ℓ = −Σ_c y_c log softmax_c, ∂ℓ/∂f = softmax·Σ_c y_c − y. Rows must be distributions (checked),
 *   so the hard-label Hessian below holds for them too.
 * Hessian per row: diag(p) − p pᵀ, factor S = diag(√p) − p √pᵀ; positions are independent, so the
 * sample's Hessian is block-diagonal over positions and its factor has C·P columns, column (c, x)
 * living at position x only (BackPACK's `_expand_sqrt_h` order).
 */
import { tf } from '../../core/tf.ts';
import { ShapeError } from '../../errors/index.ts';
import { numel } from '../../io/host-tensor.ts';
import { checkProbabilityRows, classLabels, floatTargets } from './targets.ts';
import type { LossMath } from './types.ts';

/** Classes C (the output's first axis) and positions P (the product of the others). */
function layout(outShape: number[]): { classes: number; positions: number } {
  if (outShape.length < 1) throw new ShapeError('CrossEntropyLoss needs network output [N, C] or [N, C, d1, …], got [N]');
  return { classes: outShape[0], positions: numel(outShape.slice(1)) };
}

/** [n, C, *d] → rows [n·P, C]. */
function rowsOf(t: tf.Tensor): tf.Tensor {
  if (t.rank === 2) return t;
  const [n, C] = t.shape as number[];
  return t.reshape([n, C, -1]).transpose([0, 2, 1]).reshape([-1, C]);
}

/** Rows [..., n·P, C] with `lead` leading axes → [..., n, C, *d] (the layout of `like`, [n, C, *d]). */
function fromRows(r: tf.Tensor, like: number[], lead = 0): tf.Tensor {
  if (like.length === 2) return r;
  const [n, C, ...d] = like;
  const front = r.shape.slice(0, lead) as number[];
  const perm = [...front.map((_, i) => i), lead, lead + 2, lead + 1];
  return r.reshape([...front, n, numel(d), C]).transpose(perm).reshape([...front, n, C, ...d]);
}

/** softmax over the class axis (1) of [n, C, *d]. */
const classProbs = (f: tf.Tensor) => (f.rank === 2 ? tf.softmax(f) : tf.exp(f.sub(tf.logSumExp(f, 1, true))));

/** Soft labels [n, C, *d] (host, row-major) → rows [n·P, C]. */
function softRows(values: Float32Array, n: number, C: number, P: number): Float32Array {
  if (P === 1) return values;
  const out = new Float32Array(values.length);
  for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) for (let x = 0; x < P; x++) out[(i * P + x) * C + c] = values[(i * C + c) * P + x];
  return out;
}

/**
 * Inverse-CDF draws of one class per (mc, row) from p [rows, c] and uniforms u [M, rows], on the tensors'
 * device (no read-back mid-shard): the class is the number of cumulative probabilities ≤ u among
 * the first c − 1 (the same class a sequential walk picks). Cumulative sums as p · upper-triangular
 * ones: one small product. Returns one-hot rows [M, rows, c].
 */
function sampleClasses(p: tf.Tensor, u: tf.Tensor, c: number): tf.Tensor {
  const upper = tf.tensor2d(Float32Array.from({ length: c * c }, (_, i) => (Math.floor(i / c) <= i % c ? 1 : 0)), [c, c]);
  const cdf = tf.matMul(p, upper).slice([0, 0], [-1, c - 1]); // [rows, c − 1]
  const below = tf.lessEqual(cdf.expandDims(0), u.expandDims(2)).sum(2); // [M, rows]
  return tf.oneHot(below.toInt(), c).toFloat();
}

export const crossEntropy: LossMath = {
  kind: 'CrossEntropyLoss',
  targets(y, outShape, label, offset = 0) {
    const { classes, positions } = layout(outShape);
    const n = y.shape[0];
    if (y.shape.length === outShape.length + 1 && (y.dtype === 'float32' || y.dtype === 'float64')) {
      const rows = softRows(floatTargets(y, [n, ...outShape], label, 'CrossEntropyLoss'), n, classes, positions);
      checkProbabilityRows(rows, n * positions, classes, label, offset);
      return tf.tensor2d(rows, [n * positions, classes]);
    }
    return tf.tensor1d(classLabels(y, [n, ...outShape.slice(1)], classes, label, offset), 'int32');
  },
  rho: (reduction, N, outShape) => (reduction === 'mean' ? 1 / (N * layout(outShape).positions) : 1),
  perSample(f, y) {
    const logp = tf.logSoftmax(rowsOf(f));
    const perRow = (y.rank === 2 ? logp.mul(y) : logp.mul(tf.oneHot(y, f.shape[1]!))).sum(1).neg();
    return perRow.reshape([f.shape[0]!, -1]).sum(1);
  },
  gradient(f, y) {
    const p = tf.softmax(rowsOf(f));
    const g = y.rank === 2 ? p.mul(y.sum(1, true)).sub(y) : p.sub(tf.oneHot(y, f.shape[1]!));
    return fromRows(g, f.shape);
  },
  sqrtHessian(f) {
    const [n, C] = f.shape as number[];
    const p = tf.softmax(rowsOf(f)); // [r, C], r = n·P
    const r = p.shape[0]!;
    const tau = p.sqrt();
    // S[v, row, k] = τ_k δ_vk − p_k τ_v
    const S = tf.eye(C).reshape([C, 1, C]).mul(tau.reshape([1, r, C])).sub(tau.transpose().reshape([C, r, 1]).mul(p.reshape([1, r, C])));
    if (f.rank === 2) return S;
    // Column (v, x) lives at position x: [C, P, n, C, P] with a Kronecker delta over the positions.
    const P = r / n;
    const atPositions = S.reshape([C, n, P, C]).transpose([0, 2, 1, 3]).reshape([C, P, n, C, 1]).mul(tf.eye(P).reshape([1, P, 1, 1, P]));
    return atPositions.reshape([C * P, n, C, ...f.shape.slice(2)]);
  },
  sampledSqrtHessian(f, M, uniforms) {
    const [n, C] = f.shape as number[];
    const p = tf.softmax(rowsOf(f));
    const P = p.shape[0]! / n;
    const u = new Float32Array(M * n * P);
    for (let m = 0; m < M; m++) for (let row = 0; row < n; row++) u.set(uniforms(m, row, P), (m * n + row) * P);
    const hot = sampleClasses(p, tf.tensor2d(u, [M, n * P]), C); // [M, n·P, C]
    return fromRows(p.expandDims(0).sub(hot).div(Math.sqrt(M)), f.shape, 1);
  },
  sumHessian(f) {
    const [n, C] = f.shape as number[];
    const p = tf.softmax(rowsOf(f));
    if (f.rank === 2) return tf.diag(p.sum(0)).sub(tf.matMul(p.transpose(), p));
    // Per position x: diag(Σ_n p) − Σ_n p pᵀ [P, C, C], placed on the diagonal of (c, x) × (c', x').
    const P = p.shape[0]! / n;
    const byPosition = p.reshape([n, P, C]).transpose([1, 0, 2]); // [P, n, C]
    const blocks = tf.eye(C).reshape([1, C, C]).mul(byPosition.sum(1).reshape([P, 1, C])).sub(tf.matMul(byPosition, byPosition, true, false));
    return blocks.transpose([1, 0, 2]).reshape([C, P, C, 1]).mul(tf.eye(P).reshape([1, P, 1, P])).reshape([C * P, C * P]);
  },
  hessianMatProd(f, U) {
    // Class axis 2 of U [v, n, C, *d].
    const p = classProbs(f).expandDims(0);
    const pU = p.mul(U);
    return pU.sub(p.mul(pU.sum(2, true)));
  },
};
