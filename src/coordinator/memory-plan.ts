/**
 * Chooses micro-shard sizes so one shard fits a worker's memory budget (--max-memory).
 * The estimate is per sample and deliberately generous: every layer's input and output, the
 * backpropagated factors (C or M stacked copies), unfolded convolution inputs, and the per-sample
 * outputs the quantities return. It is an upper-bound heuristic, not a measurement.
 */
import { UsageError } from '../errors/index.ts';
import { BACKPROPS } from '../extensions/index.ts';
import { numel } from '../io/host-tensor.ts';
import type { Network } from '../nn/network.ts';
import { COMBINES } from '../reduce/finalize.ts';
import type { ExtensionName } from '../vocabulary.ts';

/** Working copies of an activation alive at once (input, output, gradient, temporaries). */
const TEMPORARIES = 4;

export function bytesPerSample(net: Network, extensions: ExtensionName[], mcSamples = 1): number {
  const needs = new Set(extensions.flatMap((q) => BACKPROPS[q]));
  const outputs = numel(net.outputShape);
  const stacked = (needs.has('sqrtExact') ? outputs : 0) + (needs.has('hessian') ? outputs : 0) + (needs.has('sqrtMC') ? mcSamples : 0);
  let activations = numel(net.inputShape);
  let unfolded = 0;
  for (const layer of net.layers) {
    activations += numel(layer.outShape);
    const geom = (layer.cfg as { geom?: { kernel: number[]; outSize: number[] } } | null)?.geom;
    if (geom) unfolded = Math.max(unfolded, layer.inShape[0] * numel(geom.kernel) * numel(geom.outSize));
  }
  const params = Object.values(net.paramShapes).reduce((a, s) => a + numel(s), 0);
  const rowsQuantities = extensions.filter((q) => COMBINES[q] === 'rows').length;
  const sqrtRows = extensions.filter((q) => q === 'SqrtGGNExact' || q === 'SqrtGGNMC').length * Math.max(outputs, mcSamples);
  const floats = TEMPORARIES * activations * (1 + stacked) + 2 * unfolded * (1 + stacked) + params * (1 + rowsQuantities + sqrtRows);
  return 4 * floats;
}

/** The largest shard size under the budget (and under `requested`, if given). */
export function shardSizeFor(net: Network, extensions: ExtensionName[], maxMemoryBytes: number, requested?: number, mcSamples = 1): number {
  const per = bytesPerSample(net, extensions, mcSamples);
  const fits = Math.floor(maxMemoryBytes / per);
  if (fits < 1) {
    throw new UsageError(`--max-memory ${formatBytes(maxMemoryBytes)} is below the ~${formatBytes(per)} one sample needs for ${extensions.join(', ') || 'the gradient'}`);
  }
  return Math.max(1, Math.min(requested ?? fits, fits));
}

export const formatBytes = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 10).toFixed(1)} KiB`);

/** Parses "512M", "2G", "1.5GiB", or bytes. */
export function parseMemory(option: string) {
  return (value: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(i?[bB])?$/.exec(value.trim());
    if (!m) throw new UsageError(`${option} must be a size like 512M or 2G, got '${value}'`);
    const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
    return Math.floor(Number(m[1]) * scale);
  };
}
