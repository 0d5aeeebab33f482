/** Every device check, in the order they run (the coverage check after the conformance cases). */
import { conformanceChecks } from './conformance.ts';
import { miscChecks } from './device-misc.ts';
import { fixtureChecks } from './fixtures.ts';
import type { DeviceCheck } from './harness.ts';
import { shardCopyChecks } from './shard-copies.ts';

export function deviceChecks(): DeviceCheck[] {
  return [...miscChecks(), ...conformanceChecks(), ...shardCopyChecks(), ...fixtureChecks()];
}
