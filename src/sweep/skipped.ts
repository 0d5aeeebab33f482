/**
 * The (layer, quantity) pairs a sweep leaves out, decided from the model before anything runs or is
 * written: none (the first unsupported pair is the UnsupportedModuleError `run` gives), or, with
 * options.skipUnsupported (`sweep --skip-unsupported`), every pair the module records refuse,
 * warned about once. The set is part of the sweep's identity (progress.ts), so a resume computes
 * the same pairs; an output directory started with --skip-unsupported refuses a resume without it
 * by saying so (SweepStateError), instead of with the bare UnsupportedModuleError.
 */
import { describeSkipped, skippedPairs, unsupportedPairs, type Unsupported } from '../extensions/support.ts';
import { log } from '../log.ts';
import { SweepStateError } from './errors.ts';
import { readManifest } from './progress.ts';
import type { SweepSpec } from './spec.ts';

export async function sweepSkipped(spec: SweepSpec, out: string, restart: boolean): Promise<Unsupported[]> {
  const o = spec.options;
  if (!o.skipUnsupported && !restart && unsupportedPairs(spec.model, spec.quantities).length > 0) {
    const listed = (await readManifest(out))?.identity?.skipped;
    if (Array.isArray(listed) && listed.length > 0) {
      throw new SweepStateError(
        `${out} holds a sweep started with --skip-unsupported (it leaves out ${listed.join(', ')}); ` +
        'pass --skip-unsupported (or options.skipUnsupported) to resume it, or --restart to start over without it',
      );
    }
  }
  const skipped = skippedPairs(spec.model, spec.quantities, o.skipUnsupported);
  for (const s of skipped) log.warn(describeSkipped(s));
  return skipped;
}
