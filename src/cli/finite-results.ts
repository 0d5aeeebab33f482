/**
 * The last guard against a wrong answer with exit 0: inputs and weights are checked finite in
 * float32, but products of finite values can still overflow (large weights, deep networks), and
 * then the loss or a result is NaN or ±Inf. Such a run fails with the tensor named.
 */
import { NonFiniteError } from '../errors/index.ts';
import type { HostTensor } from '../io/host-tensor.ts';
import { isStreamed, type ResultTensor } from '../io/result-tensor.ts';
import { SAVEFIELDS } from '../vocabulary.ts';

const HINT = 'float32 overflowed during the computation; scale the inputs or weights down';

export function checkFiniteLoss(loss: number): void {
  if (!Number.isFinite(loss)) throw new NonFiniteError(`the loss is ${loss}: ${HINT}`);
}

/** The gradient noise scale's ratio and its parts are undefined (NaN, ±Inf) for N = 1 by definition. */
const mayBeUndefined = (key: string) => key === SAVEFIELDS.GradientNoiseScale || key.startsWith(`${SAVEFIELDS.GradientNoiseScale}.`);

/** Checks the loss and every result held in memory (streamed results are on disk, unchecked). */
export function checkFiniteResults(loss: number, results: Map<string, ResultTensor> | Map<string, HostTensor>): void {
  checkFiniteLoss(loss);
  for (const [key, t] of results) {
    if (isStreamed(t) || mayBeUndefined(key)) continue;
    const data = t.data;
    if (data instanceof BigInt64Array || data instanceof Int32Array) continue;
    for (let j = 0; j < data.length; j++) {
      if (!Number.isFinite(data[j])) throw new NonFiniteError(`result '${key}' holds ${data[j]} at flat index ${j}: ${HINT}`);
    }
  }
}
