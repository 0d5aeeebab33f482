/**
 * A loss ℓ(f, y) = ρ Σ_n ℓ_n(f_n, y_n). Everything here is per sample and unscaled; ρ is applied
 * by the caller with the *global* batch size, so shards of one batch agree with the whole batch.
 * Shapes: f [n, *out]; y as the loss requires.
 */
import type { tf } from '../../core/tf.ts';
import type { HostTensor } from '../../io/host-tensor.ts';
import type { LossKind, Reduction } from '../../vocabulary.ts';

export interface LossMath {
  kind: LossKind;
  /**
   * Validates targets against the network output (labels in range, finite values) → tensor.
   * `offset` is the global index of the first row, so messages name the sample in the whole batch.
   */
  targets(y: HostTensor, outShape: number[], label: string, offset?: number): tf.Tensor;
  /** ρ: 1 for 'sum'; BackPACK's normalisation for 'mean' (1/N for CE, 1/(N·D) for MSE and BCE). */
  rho(reduction: Reduction, N: number, outShape: number[]): number;
  /** ℓ_n for each sample: [n]. */
  perSample(f: tf.Tensor, y: tf.Tensor): tf.Tensor;
  /** ∂ℓ_n/∂f_n: [n, *out]. */
  gradient(f: tf.Tensor, y: tf.Tensor): tf.Tensor;
  /**
   * Exact symmetric factor S_n of the per-sample Hessian, S_n S_nᵀ = ∇²_f ℓ_n (unscaled):
   * [C, n, *out] with C = Π out (BackPACK's choice, so sqrt_ggn_* match column by column).
   */
  sqrtHessian(f: tf.Tensor): tf.Tensor;
  /**
   * Monte-Carlo factor: M gradients of ℓ_n at targets ŷ ~ p(y | f_n), so E[S Sᵀ] = ∇²_f ℓ_n
   * (unscaled, divided by √M): [M, n, *out]. `uniforms(count)` gives per-sample draws keyed by
   * (seed, global sample, mc index), never by shard.
   */
  sampledSqrtHessian(f: tf.Tensor, mcSamples: number, uniforms: (mc: number, row: number, count: number) => Float32Array): tf.Tensor;
  /** Σ_n ∇²_f ℓ_n over the rows given, flattened: [Π out, Π out] (KFRA's starting matrix). */
  sumHessian(f: tf.Tensor): tf.Tensor;
  /** ∇²_f ℓ_n · U_n for stacked U [v, n, *out] (unscaled). */
  hessianMatProd(f: tf.Tensor, U: tf.Tensor): tf.Tensor;
}
