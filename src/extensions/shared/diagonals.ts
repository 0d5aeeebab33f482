/**
 * Diagonals of curvature matrices from backpropagated factors: diag(Σ_f ±Σ_v (J_θᵀ S_f)(J_θᵀ S_f)ᵀ),
 * summed over samples or per sample. Shapes: S [v, n, *out]; results [*θ] or [n, *θ].
 * Linear without leading dims never materialises J_θᵀ S: (g xᵀ)² = g² (x²)ᵀ elementwise.
 */
import { tf } from '../../core/tf.ts';
import type { Factor } from '../../core/factors.ts';
import { matMulT } from '../../core/ops/matmul.ts';
import { sumLeading } from '../../core/ops/reduce-leading.ts';
import { numel } from '../../io/host-tensor.ts';
import { fromRows, fromSum } from '../../reduce/finalizers.ts';
import { SAVEFIELDS, type Backprop, type ExtensionName } from '../../vocabulary.ts';
import type { ParamContext, Quantity } from '../types.ts';

const isPlainLinearWeight = (p: ParamContext) =>
  p.layer.kind === 'Linear' && p.param === 'weight' && (p.layer.cfg as { lead: number }).lead === 1;

/** Σ_v (J_θᵀ S)² per sample: [n, *θ]. */
function perSampleSquares(p: ParamContext, f: Factor): tf.Tensor {
  if (isPlainLinearWeight(p)) {
    const s2 = sumLeading(f.S.square()); // [n, o]
    const [n, o] = s2.shape as [number, number];
    return s2.reshape([n, o, 1]).mul(p.x.square().reshape([n, 1, -1]));
  }
  return p.squares(f.S, 'rows');
}

/** Σ_n Σ_v (J_θᵀ S)²: [*θ]. */
function summedSquares(p: ParamContext, f: Factor): tf.Tensor {
  if (isPlainLinearWeight(p)) return matMulT(sumLeading(f.S.square()), p.x.square(), true, false);
  return p.squares(f.S, 'sum');
}

const signed = (terms: { value: tf.Tensor; sign: number }[]) =>
  terms.map((t) => (t.sign < 0 ? t.value.neg() : t.value)).reduce((a, b) => a.add(b));

/** The diagonal summed over the shard's samples. */
export const diagonalSum = (p: ParamContext, factors: Factor[]): tf.Tensor =>
  signed(factors.map((f) => ({ value: summedSquares(p, f), sign: f.sign })));

/** The diagonal per subsampled sample: [n_sub, *θ]. */
export const diagonalRows = (p: ParamContext, factors: Factor[]): tf.Tensor =>
  p.subRows(signed(factors.map((f) => ({ value: perSampleSquares(p, f), sign: f.sign }))), 0);

/**
 * The record of a diagonal quantity: of the curvature the `factor` backprop carries (exact GGN, MC
 * GGN, exact Hessian), summed over samples ([*θ]) or per sample ([n, *θ]).
 */
export function diagonalQuantity(name: ExtensionName, factor: Exclude<Backprop, 'kfra'>, perSample: boolean): Quantity {
  const field = SAVEFIELDS[name];
  return {
    name,
    savefield: field,
    backprops: [factor],
    rule: perSample
      ? (p) => [{ field, kind: 'rows', value: diagonalRows(p, p.factors[factor]!) }]
      : (p) => [{ field, kind: 'sum', value: diagonalSum(p, p.factors[factor]!) }],
    ...(factor === 'hessian' ? { needs: HESSIAN_NEEDS } : {}),
    finalize: perSample ? fromRows(field) : fromSum(field),
    combines: perSample ? 'rows' : 'sum',
    outputElements: (theta) => numel(theta),
    work: { factor, always: false },
  };
}

/** What the exact-Hessian quantities need: every later module's input Hessian (the residual terms). */
export const HESSIAN_NEEDS = { after: ['inputHessian'] } as const satisfies Quantity['needs'];
