/**
 * Input normalisation, applied to each float32 batch [B, C, …] after decoding.
 *   'none'        values as stored (uint8 pixels stay 0…255);
 *   'unit'        uint8 pixels / 255 → [0, 1] (uint8 sources only);
 *   {mean, std}   per channel (axis 0 of a row): (x − mean[c]) / std[c]. On uint8 sources x is
 *                 first divided by 255, as torchvision's ToTensor + Normalize do, so the usual
 *                 published constants (CIFAR-10 mean 0.4914, …) apply unchanged.
 */
import { UsageError } from '../../errors/index.ts';
import { numel } from '../../io/host-tensor.ts';

export type Normalize = 'none' | 'unit' | { mean: number[]; std: number[] };

/** Checks the option against a source; returns an in-place transform of one batch, or undefined. */
export function normalizer(
  opt: Normalize | undefined,
  rowShape: readonly number[],
  stored: string,
  name: string,
): ((x: Float32Array) => void) | undefined {
  if (opt === undefined || opt === 'none') return undefined;
  if (opt === 'unit') {
    if (stored !== 'uint8') {
      throw new UsageError(`normalize: 'unit' divides uint8 pixels by 255, but ${name} stores ${stored}; use 'none' or {mean, std}`);
    }
    return (x) => {
      for (let i = 0; i < x.length; i++) x[i] /= 255;
    };
  }
  if (typeof opt !== 'object' || opt === null || !Array.isArray(opt.mean) || !Array.isArray(opt.std)) {
    throw new UsageError(`normalize must be 'none', 'unit' or {mean: number[], std: number[]}, got ${JSON.stringify(opt)}`);
  }
  const channels = rowShape.length === 0 ? 1 : rowShape[0];
  for (const key of ['mean', 'std'] as const) {
    const v = opt[key];
    if (v.length !== 1 && v.length !== channels) {
      throw new UsageError(`normalize.${key} has ${v.length} values; ${name} rows [${rowShape.join(', ')}] have ${channels} channels (axis 0), so give ${channels} or 1`);
    }
    v.forEach((m, c) => {
      if (!Number.isFinite(m) || (key === 'std' && m <= 0)) {
        throw new UsageError(`normalize.${key}[${c}] must be a finite number${key === 'std' ? ' > 0' : ''}, got ${m}`);
      }
    });
  }
  const scale = stored === 'uint8' ? 1 / 255 : 1;
  const per = numel(rowShape.slice(1));
  const mean = Float64Array.from({ length: channels }, (_, c) => opt.mean[opt.mean.length === 1 ? 0 : c]);
  const inv = Float64Array.from({ length: channels }, (_, c) => 1 / opt.std[opt.std.length === 1 ? 0 : c]);
  return (x) => {
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / per) % channels;
      x[i] = (x[i] * scale - mean[c]) * inv[c];
    }
  };
}
