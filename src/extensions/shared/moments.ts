/**
 * The moments of a shard's per-sample gradients, for Variance and GradientNoiseScale: their mean
 * and centred second moment M2 = Σ_n (g_n − mean)², merged across shards in float64 by Chan et
 * al.'s pairwise update (src/reduce/moments.ts). Why not Σ g² − n·mean²: it cancels when the
 * variance ≪ mean². Two forms:
 * - device backends (native, cuda): sums around the shard's mean gradient s, [s; Σ (g − s);
 *   Σ (g − s)²] (double accumulators), computed where the tensors live — a convolution on native
 *   squares its centred per-sample Jacobians as they are made and nothing [n, *θ] is downloaded;
 * - host backends (wasm, cpu): the per-sample gradients themselves, reduced on the host in float64
 *   (their float32 sums would cost digits, and the data is on the host already).
 */
import { tf } from '../../core/tf.ts';
import type { ParamContext, RuleOutput } from '../types.ts';

/** The field both quantities write (computed once when both are requested). */
export const VARIANCE_MOMENTS = 'variance.moments';

const HOST_BACKENDS = new Set(['wasm', 'cpu']);

export function momentsOutput(p: ParamContext): RuleOutput {
  if (HOST_BACKENDS.has(tf.getBackend())) return { field: VARIANCE_MOMENTS, kind: 'moments', form: 'rows', value: p.gradBatch() };
  // [s; Σ (g − s); Σ (g − s)²] about the shard's mean gradient s, which the kernel finds on its way:
  // the gradient then comes from these moments too (mean × n), not from a GEMM of its own.
  const value = p.memo('moments', () => p.squares(p.gOut.expandDims(0), 'moments'));
  return { field: VARIANCE_MOMENTS, kind: 'moments', form: 'shifted', value, gradients: true };
}

export const momentsRule = (p: ParamContext): RuleOutput[] => [momentsOutput(p)];
