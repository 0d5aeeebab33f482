/**
 * Kronecker factors (KFAC, KFLR, KFRA) with BackPACK's conventions:
 *   weight ≈ B ⊗ A, bias ≈ B, with A = (1/N) Σ_n x_n x_nᵀ (Linear) or the unfolded input's
 *   (1/N) Σ_n Σ_p u_np u_npᵀ (ConvNd, Ω in Grosse & Martens 2016), and for KFAC/KFLR
 *   B = Σ_{v,n} s s ᵀ with s the backpropagated factor summed over spatial positions / leading dims.
 * Partials: `<q>.0` (B, a sum) and `<q>.A` (Σ x xᵀ, a sum divided by N when finalised).
 * Which axis B indexes and how A is made are the module record's (`kronecker`); everything else is here.
 */
import { tf } from '../../core/tf.ts';
import { kroneckerOf } from '../../core/capabilities.ts';
import type { Factor } from '../../core/factors.ts';
import { matMulT } from '../../core/ops/matmul.ts';
import { kronecker } from '../../reduce/finalizers.ts';
import { SAVEFIELDS } from '../../vocabulary.ts';
import type { ParamContext, Quantity, Rule, RuleOutput } from '../types.ts';

/** Σ_{v,n} s sᵀ with s = S summed over everything between n and the module's output axis (its record says which). */
export function outputFactor(p: ParamContext, f: Factor, quantity: string): tf.Tensor {
  const { outputAxis } = kroneckerOf(p.layer, quantity);
  const S = f.S;
  const shape = S.shape as number[];
  const [v, n] = shape;
  // 'last' (Linear): [v, n, *l, o] → Σ_l → [v·n, o]; 'channel': [v, n, c, *sp] → Σ_sp → [v·n, c].
  const s = outputAxis === 'last' ? S.reshape([v * n, -1, shape[shape.length - 1]]).sum(1) : S.reshape([v * n, shape[2], -1]).sum(2);
  return matMulT(s, s, true, false);
}

/** A's partial sum, Σ_n (unfolded) x_n x_nᵀ from the module's record; divided by N in the reducer. */
export function inputFactorSum(p: ParamContext, quantity: string): tf.Tensor {
  return p.memo('kron.A', () => kroneckerOf(p.layer, quantity).inputFactorSum(p.layer, p.x));
}

/**
 * The rule of KFAC or KFLR: B from the factor, A (weight only) from the input. A module whose
 * record states no Kronecker factors, or refuses them, gets a typed error naming the reason.
 */
export function kroneckerRule(quantity: string, field: string, factorOf: (p: ParamContext) => Factor): Rule {
  return (p) => {
    const out: RuleOutput[] = [{ field: `${field}.0`, kind: 'sum', value: outputFactor(p, factorOf(p), quantity) }];
    if (p.param === 'weight') out.push({ field: `${field}.A`, kind: 'sum', value: inputFactorSum(p, quantity) });
    return out;
  };
}

/**
 * float32 elements of one parameter's factors, for the size estimate: a weight's B [out, out] and
 * A [in·K, in·K], a bias's B. θ[0] is the output size for Linear and ConvNd (for a transposed
 * convolution it is c_in: an estimate of the same order).
 */
export function kroneckerElements(theta: number[]): number {
  const out = theta[0];
  const n = theta.reduce((a, b) => a * b, 1);
  return theta.length === 1 ? out * out : out * out + (n / out) ** 2;
}

/** The record of KFAC or KFLR: B from the first factor the `factor` backprop carries, A from the input. */
export function kroneckerQuantity(name: 'KFAC' | 'KFLR', factor: 'sqrtMC' | 'sqrtExact'): Quantity {
  const field = SAVEFIELDS[name];
  return {
    name,
    savefield: field,
    backprops: [factor],
    rule: kroneckerRule(name, field, (p) => p.factors[factor]![0]),
    needs: { own: ['kronecker'] },
    finalize: kronecker(field),
    combines: 'sum',
    outputElements: kroneckerElements,
    work: null,
  };
}
