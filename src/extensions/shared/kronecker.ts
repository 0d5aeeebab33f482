/**
 * Kronecker factors (KFAC, KFLR, KFRA) with BackPACK's conventions:
 *   weight ≈ B ⊗ A, bias ≈ B, with A = (1/N) Σ_n x_n x_nᵀ (Linear) or the unfolded input's
 *   (1/N) Σ_n Σ_p u_np u_npᵀ (ConvNd, Ω in Grosse & Martens 2016), and for KFAC/KFLR
 *   B = Σ_{v,n} s s ᵀ with s the backpropagated factor summed over spatial positions / leading dims.
 * Partials: `<q>.0` (B, a sum) and `<q>.A` (Σ x xᵀ, a sum divided by N when finalised).
 * Leading dims of Linear are treated like conv's spatial positions (BackPACK refuses them).
 */
import { tf } from '../../core/tf.ts';
import type { ConvCfg } from '../../core/derivatives/conv.ts';
import type { Factor } from '../../core/factors.ts';
import { hasKernel, runKernel } from '../../core/ops/fused.ts';
import { CONV_INPUT_GRAM } from '../../core/ops/kernel-names.ts';
import { matMulT } from '../../core/ops/matmul.ts';
import { unfoldColumns } from '../../core/ops/windows.ts';
import type { ParametricKind } from '../../vocabulary.ts';
import type { ParamContext, Rule, RuleOutput } from '../types.ts';
import { unsupported } from './tables.ts';

/** Σ_{v,n} s sᵀ with s = S summed over everything between n and the channel/feature axis. */
export function outputFactor(p: ParamContext, f: Factor): tf.Tensor {
  const S = f.S;
  const shape = S.shape as number[];
  const [v, n] = shape;
  const channels = p.layer.kind === 'Linear' ? shape[shape.length - 1] : shape[2];
  // Linear: [v, n, *l, o] → Σ_l → [v·n, o]; conv: [v, n, c, *sp] → Σ_sp → [v·n, c].
  const s = p.layer.kind === 'Linear' ? S.reshape([v * n, -1, channels]).sum(1) : S.reshape([v * n, channels, -1]).sum(2);
  return matMulT(s, s, true, false);
}

/** Σ_n x_n x_nᵀ (Linear) or Σ_n Σ_p u_np u_npᵀ (ConvNd); divided by N in the reducer. */
export function inputFactorSum(p: ParamContext): tf.Tensor {
  return p.memo('kron.A', () => {
    if (p.layer.kind === 'Linear') {
      const X = p.x.reshape([-1, p.x.shape[p.x.rank - 1]]);
      return matMulT(X, X, true, false);
    }
    const { geom, groups } = p.layer.cfg as ConvCfg;
    // Native streams Σ_n U_n U_nᵀ per sample; elsewhere one product of the unfolded shard.
    if (hasKernel(CONV_INPUT_GRAM)) return runKernel(CONV_INPUT_GRAM, { x: p.x }, { geom, groups });
    const flat = unfoldColumns(p.x, geom); // [c·K, n·P]
    return matMulT(flat, flat, false, true);
  });
}

/** The rule of KFAC or KFLR: B from the factor, A (weight only) from the input. */
export function kroneckerRule(field: string, factorOf: (p: ParamContext) => Factor): Rule {
  return (p) => {
    const out: RuleOutput[] = [{ field: `${field}.0`, kind: 'sum', value: outputFactor(p, factorOf(p)) }];
    if (p.param === 'weight') out.push({ field: `${field}.A`, kind: 'sum', value: inputFactorSum(p) });
    return out;
  };
}

const groupsOf = (p: ParamContext) => (p.layer.cfg as { groups?: number }).groups ?? 1;

/** Conv rules refuse grouped convolutions (the Kronecker structure does not hold across groups). */
export function convKronecker(quantity: string, rule: Rule): Rule {
  return (p) => {
    if (groupsOf(p) > 1) return unsupported(quantity, p.layer.kind as ParametricKind, 'grouped convolutions (groups > 1) have no Kronecker-factored curvature')(p);
    return rule(p);
  };
}

/** A full table for a Kronecker quantity: Linear and ConvNd; transposed convs and BatchNorm refused. */
export function kroneckerTable(quantity: string, rule: Rule): Record<ParametricKind, Rule> {
  const conv = convKronecker(quantity, rule);
  return {
    Linear: rule,
    Conv1d: conv, Conv2d: conv, Conv3d: conv,
    ConvTranspose1d: unsupported(quantity, 'ConvTranspose1d', 'no Kronecker factorisation is defined for transposed convolutions (as in BackPACK)'),
    ConvTranspose2d: unsupported(quantity, 'ConvTranspose2d', 'no Kronecker factorisation is defined for transposed convolutions (as in BackPACK)'),
    ConvTranspose3d: unsupported(quantity, 'ConvTranspose3d', 'no Kronecker factorisation is defined for transposed convolutions (as in BackPACK)'),
    BatchNorm1d: unsupported(quantity, 'BatchNorm1d', 'no Kronecker factorisation is defined for BatchNorm (as in BackPACK)'),
    BatchNorm2d: unsupported(quantity, 'BatchNorm2d', 'no Kronecker factorisation is defined for BatchNorm (as in BackPACK)'),
    BatchNorm3d: unsupported(quantity, 'BatchNorm3d', 'no Kronecker factorisation is defined for BatchNorm (as in BackPACK)'),
  };
}
