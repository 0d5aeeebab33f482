/**
 * Seeded random probe vectors. Every entry is a pure function of (seed, purpose, probe, index)
 * (core/random.ts's counter-based hash), so a probe is the same whatever computes it, in whatever
 * order: spectra and traces are reproducible from their seed alone.
 */
import { STREAM, uniformAt } from '../core/random.ts';

/** Separate streams for the methods, so e.g. Hutch++'s sketch never reuses Hutchinson's probes. */
export const PROBE_PURPOSE = { lanczosStart: 1, slq: 2, hutchinson: 3, hutchppSketch: 4, hutchppResidual: 5 } as const;
export type ProbePurpose = keyof typeof PROBE_PURPOSE;

/** A Rademacher vector (entries ±1 with equal probability): ‖z‖² = n exactly. */
export function rademacher(seed: number, purpose: ProbePurpose, probe: number, n: number): Float64Array {
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) z[i] = uniformAt(seed, STREAM.spectrumProbes, PROBE_PURPOSE[purpose], probe, i) < 0.5 ? -1 : 1;
  return z;
}
