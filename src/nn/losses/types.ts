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
  /** Validates targets against the network output (labels in range, finite values) → tensor. */
  targets(y: HostTensor, outShape: number[], label: string): tf.Tensor;
  /** ρ: 1 for 'sum'; BackPACK's normalisation for 'mean' (1/N for CE, 1/(N·D) for MSE and BCE). */
  rho(reduction: Reduction, N: number, outShape: number[]): number;
  /** ℓ_n for each sample: [n]. */
  perSample(f: tf.Tensor, y: tf.Tensor): tf.Tensor;
  /** ∂ℓ_n/∂f_n: [n, *out]. */
  gradient(f: tf.Tensor, y: tf.Tensor): tf.Tensor;
}
