/**
 * Case inputs, generated from a spec and a seed (the case's name), so a failing case reproduces
 * from its name alone. Kinds:
 *   normal    float32 N(0, 1)
 *   positive  float32 in [0.1, 3)
 *   special   float32 cycling NaN, ±Inf, ±0, halves (round's ties), ±1, large and tiny values
 *   ties      float32 small integers (ties in max/argmax)
 *   int       int32 in [-9, 9] (zeros included: divisors of 0 on purpose)
 *   bigint    int32 of magnitude 2^24 … 2^29 (beyond float32's exact integers, below overflow)
 *   bool      0/1
 *   values    the given values, cycled
 */
import type { DataType } from '@tensorflow/tfjs-core';
import type { HostTensor } from './harness.ts';

export type Kind = 'normal' | 'positive' | 'special' | 'ties' | 'int' | 'bigint' | 'bool';

export interface Input {
  shape: number[];
  kind: Kind | { values: number[]; dtype: DataType };
}

export const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 0.5, -0.5, 1.5, -2.5, 2.5, 1, -1, 3.25, -7.75, 1e20, -1e-20, 88.5, -100];

export const inp = (shape: number[], kind: Input['kind'] = 'normal'): Input => ({ shape, kind });

/** mulberry32 seeded by a string hash (FNV-1a). */
export function rng(seed: string): () => number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dtypeOf = (kind: Input['kind']): DataType =>
  typeof kind === 'object' ? kind.dtype : kind === 'int' || kind === 'bigint' ? 'int32' : kind === 'bool' ? 'bool' : 'float32';

export function generate(spec: Input, seed: string): HostTensor {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const k = spec.kind;
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const one = (i: number): number => {
    if (typeof k === 'object') return k.values[i % k.values.length];
    switch (k) {
      case 'normal': return Math.fround(normal());
      case 'positive': return Math.fround(0.1 + 2.9 * r());
      case 'special': return SPECIAL[(i + Math.floor(r() * SPECIAL.length)) % SPECIAL.length];
      case 'ties': return Math.floor(r() * 5) - 2;
      case 'int': return Math.floor(r() * 19) - 9;
      case 'bigint': return (r() < 0.5 ? -1 : 1) * Math.floor(2 ** 24 + r() * (2 ** 29 - 2 ** 24));
      case 'bool': return r() < 0.5 ? 0 : 1;
    }
  };
  return { shape: spec.shape, dtype: dtypeOf(k), values: Array.from({ length: n }, (_, i) => one(i)) };
}
