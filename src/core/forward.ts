/**
 * The forward half of extended backprop on one shard: validated inputs, every layer's input
 * kept for the backward pass, the loss value and its ρ from the *global* batch size.
 */
import { tf } from './tf.ts';
import { mathOf } from './derivatives/index.ts';
import { mergeForward } from './derivatives/merge.ts';
import type { ForwardContext } from './derivatives/types.ts';
import { checkedInputs } from './inputs.ts';
import { UsageError } from '../errors/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { LOSSES, type LossMath } from '../nn/losses/index.ts';
import type { Network } from '../nn/network.ts';
import type { ExtensionName } from '../vocabulary.ts';

/** What a job's shards compute, the same for every shard (the wire's JobSettings extends it). */
export interface ShardSettings {
  extensions: ExtensionName[];
  /** Global sample indices for per-sample quantities (all samples when absent). */
  subsampling?: number[];
  seed: number;
  /** Monte-Carlo samples for the *MC quantities and KFAC (default 1). */
  mcSamples?: number;
  /** --skip-unsupported: (layer, quantity) pairs left out, as extensions/support.ts's skipKey. */
  skip?: readonly string[];
}

/** One shard to compute in this thread: its settings, samples and tensors (a worker builds it from a ShardTask). */
export interface ShardRequest extends ShardSettings {
  shardId: number;
  /** Inputs [n, *input_shape] and targets of this shard only. */
  inputs: HostTensor;
  targets: HostTensor;
  /** Global index of the shard's first sample and the global batch size N (for ρ). */
  offset: number;
  N: number;
  /** Vectors for GGNMP/HMP: `<param>` → [V, *θ]. */
  vectors?: Map<string, HostTensor>;
}

export interface ShardState {
  req: ShardRequest;
  n: number;
  loss: LossMath;
  /** acts[0] is the network input, acts[j + 1] the output of node j; the last is the network output f. */
  acts: tf.Tensor[];
  targets: tf.Tensor;
  rho: number;
  /** Σ_n ℓ_n over the shard, a scalar tensor read (×ρ) with the partials, not mid-shard. */
  lossSum: tf.Tensor;
  /** The shard's rows that subsampling selects (local positions, global indices); null = all. */
  rows: { local: Int32Array; global: Int32Array } | null;
}

function selectedRows(req: ShardRequest, n: number): ShardState['rows'] {
  if (!req.subsampling) return null;
  const mine = [...new Set(req.subsampling)].filter((s) => s >= req.offset && s < req.offset + n).sort((a, b) => a - b);
  return { local: Int32Array.from(mine, (s) => s - req.offset), global: Int32Array.from(mine) };
}

/** Runs the forward pass; the returned tensors are kept until `disposeShardState`. */
export function forwardShard(net: Network, req: ShardRequest): ShardState {
  const n = req.inputs.shape[0];
  if (req.offset < 0 || req.offset + n > req.N) throw new UsageError(`shard [${req.offset}, ${req.offset + n}) lies outside the batch of ${req.N} samples`);
  const loss = LOSSES[net.loss.type];
  const xs = checkedInputs(req.inputs, net.inputShape, 'inputs', req.offset);
  const ctx: ForwardContext = { seed: req.seed, sampleIndex: Int32Array.from({ length: n }, (_, i) => req.offset + i) };
  const rho = loss.rho(net.loss.reduction, req.N, net.outputShape);
  const { acts, targets, lossSum } = tf.tidy(() => {
    const targets = loss.targets(req.targets, net.outputShape, 'targets', req.offset);
    const acts: tf.Tensor[] = [tf.tensor(xs, [n, ...net.inputShape])];
    for (const node of net.nodes) {
      const xs = node.inputs.map((i) => acts[i + 1]);
      acts.push(node.kind === 'layer' ? mathOf(node.layer.kind).forward(node.layer, xs[0], ctx) : mergeForward(node.merge, xs));
    }
    const lossSum = loss.perSample(acts[acts.length - 1], targets).sum();
    return { acts: acts.map((a) => tf.keep(a)), targets: tf.keep(targets), lossSum: tf.keep(lossSum) };
  });
  return { req, n, loss, acts, targets, rho, lossSum, rows: selectedRows(req, n) };
}

export function disposeShardState(state: ShardState): void {
  for (const a of state.acts) a.dispose();
  state.targets.dispose();
  state.lossSum.dispose();
}
