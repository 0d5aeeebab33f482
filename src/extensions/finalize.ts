/**
 * Turns merged partials into BackPACK's results, once, after all shards are merged: `<param>.grad`
 * for every parameter, then what each requested quantity's record says (its `finalize`, built from
 * reduce/finalizers.ts), skipping the (layer, quantity) pairs left out by --skip-unsupported.
 */
import { QUANTITIES } from './index.ts';
import { skipKey } from './support.ts';
import type { Partials } from '../core/partials.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { GRAD_FIELD, type ExtensionName } from '../vocabulary.ts';
import { isStreamed, type ResultTensor } from '../io/result-tensor.ts';
import { fromSum, type FinalizeOptions as BaseOptions } from '../reduce/finalizers.ts';

export { isStreamed, type ResultTensor, type StreamedTensor } from '../io/result-tensor.ts';

export interface FinalizeOptions extends BaseOptions {
  extensions: ExtensionName[];
}

/** Reads a streamed result into memory. */
export function materialize(t: ResultTensor): HostTensor {
  if (!isStreamed(t)) return t;
  const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
  let at = 0;
  for (const c of t.chunks()) {
    data.set(c, at);
    at += c.length;
  }
  return { dtype: 'float32', shape: t.shape, data };
}

/** All results in memory: `<param>.grad` for every parameter, then each requested quantity. */
export function finalize(merged: Partials, opts: FinalizeOptions): Map<string, HostTensor> {
  return new Map([...finalizeStreaming(merged, opts)].map(([k, t]) => [k, materialize(t)]));
}

/** The same, with spilled per-sample rows left on disk until the results file is written. */
export function finalizeStreaming(merged: Partials, opts: FinalizeOptions): Map<string, ResultTensor> {
  const out = new Map<string, ResultTensor>();
  for (const param of opts.paramNames) {
    for (const [suffix, t] of fromSum(GRAD_FIELD)(param, merged, opts)) out.set(`${param}.${suffix}`, t);
    const layer = param.slice(0, param.lastIndexOf('.'));
    for (const q of opts.extensions) {
      if (opts.skip?.includes(skipKey(layer, q))) continue;
      for (const [suffix, t] of QUANTITIES[q].finalize(param, merged, opts)) out.set(`${param}.${suffix}`, t);
    }
  }
  for (const q of opts.extensions) for (const [key, t] of QUANTITIES[q].finalizeNetwork?.(merged, opts) ?? []) out.set(key, t);
  return out;
}
