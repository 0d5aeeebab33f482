/**
 * Sliding-window geometry shared by convolutions and pools, for any number of spatial dims.
 * Index letters: d = spatial dim, k = kernel position, p = output position, s = input position.
 */
import { ModelSpecError, ShapeError } from '../errors/index.ts';

export interface WindowGeometry {
  /** Spatial input sizes, one per dim. */
  inSize: number[];
  kernel: number[];
  stride: number[];
  dilation: number[];
  /** Padding before and after, per dim (torch's 'same' can be asymmetric). */
  padLo: number[];
  padHi: number[];
  /** Spatial output sizes: floor((in + lo + hi - dil·(k-1) - 1) / stride) + 1. */
  outSize: number[];
}

/** Expands torch's `3` or `[3, 3]` to one entry per spatial dim. */
export function expand(value: number | number[], dims: number, what: string): number[] {
  if (typeof value === 'number') return Array(dims).fill(value);
  if (value.length === 1) return Array(dims).fill(value[0]);
  if (value.length !== dims) throw new ModelSpecError(`${what} has ${value.length} entries, expected ${dims}`);
  return value;
}

export function windowGeometry(
  inSize: number[],
  kernel: number[],
  stride: number[],
  dilation: number[],
  padLo: number[],
  padHi: number[],
  where: string,
): WindowGeometry {
  const outSize = inSize.map((n, d) => Math.floor((n + padLo[d] + padHi[d] - dilation[d] * (kernel[d] - 1) - 1) / stride[d]) + 1);
  if (outSize.some((o) => o < 1)) {
    throw new ShapeError(`${where}: input spatial size [${inSize}] is too small for kernel [${kernel}] (dilation [${dilation}], padding [${padLo}]/[${padHi}]); output would be [${outSize}]`);
  }
  return { inSize, kernel, stride, dilation, padLo, padHi, outSize };
}

/** torch's padding='same' (stride 1): total d·(k-1), the extra unit goes after. */
export function samePadding(kernel: number[], dilation: number[]): { lo: number[]; hi: number[] } {
  const total = kernel.map((k, d) => dilation[d] * (k - 1));
  const lo = total.map((t) => Math.floor(t / 2));
  return { lo, hi: total.map((t, d) => t - lo[d]) };
}

/** Number of elements of a shape (the same as io's numel; named for index arithmetic here). */
export { numel as prod } from '../io/host-tensor.ts';
