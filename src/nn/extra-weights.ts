/**
 * Tensors of a weights file that the model does not use are an error listing them, as torch's
 * strict `load_state_dict` (a weights file for another model, a renamed layer, an off-by-one index
 * must not pass silently); `allow` accepts them (--allow-extra-weights, options.allowExtraWeights). torch's BatchNorm buffer
 * `num_batches_tracked` is not an extra: torch writes it in every state_dict and eval mode, the only
 * mode we run BatchNorm in, does not read it.
 */
import { WeightsError } from '../errors/index.ts';
import { describeParameters } from './network.ts';
import type { ModelSpec } from './spec.ts';

const LISTED = 20;

/** Names in `names` that are neither a parameter nor a buffer of the model, in file order. */
export function unusedWeightNames(spec: ModelSpec, names: Iterable<string>): string[] {
  const { params, buffers } = describeParameters(spec);
  const used = new Set([...Object.keys(params), ...Object.keys(buffers)]);
  const batchNorms = new Set(Object.keys(buffers).filter((k) => k.endsWith('.running_var')).map((k) => k.slice(0, -'.running_var'.length)));
  return [...names].filter((n) => !used.has(n) && !(n.endsWith('.num_batches_tracked') && batchNorms.has(n.slice(0, -'.num_batches_tracked'.length))));
}

/**
 * Throws a WeightsError listing the unused tensors of `file`, unless `allow`; `allowedBy` names the
 * setting that allows them where the user meets this ('--allow-extra-weights', a job file's option).
 */
export function checkNoExtraWeights(spec: ModelSpec, names: Iterable<string>, file: string, allow: boolean | undefined, allowedBy: string): void {
  if (allow) return;
  const extra = unusedWeightNames(spec, names);
  if (extra.length === 0) return;
  const list = extra.slice(0, LISTED).map((n) => `'${n}'`).join(', ') + (extra.length > LISTED ? `, … (${extra.length} in all)` : '');
  throw new WeightsError(
    `${file}: ${extra.length} tensor${extra.length === 1 ? '' : 's'} the model does not use: ${list}. A weights file for another model, or layers numbered differently? (${allowedBy} accepts them)`,
  );
}
