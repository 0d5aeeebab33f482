/**
 * `npm run test:device`: the device checks (test/device/checks.ts) under vitest, on the cuda
 * device of this machine's first visible GPU, or on its host emulation with
 * BACKPACK_CUDA_ADDON=native/build/emu/backpack_native_emu.node. Without a usable GPU every check
 * is skipped, with the reason printed. On a GPU machine without Node's packages, run the same
 * checks from the bundle instead (scripts/device-check.sh).
 */
import { describe, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { deviceChecks } from './checks.ts';
import { defaultFixtureRoot, type CheckEnv } from './harness.ts';
import { deviceStatus } from './status.ts';

const status = deviceStatus();
if (!status.usable) console.log(`test:device: skipped: ${status.reason}`);
else console.log(`test:device: ${status.description}${status.emulated ? ' [host emulation]' : ''}, ${status.gpus} GPU(s); reference ${status.reference} (${status.referenceLibrary})`);

const env: CheckEnv = { runCli, fixtureRoot: defaultFixtureRoot(), log: (m) => console.log(m) };

describe.skipIf(!status.usable)('cuda device checks', () => {
  for (const check of deviceChecks()) {
    it(`${check.group}: ${check.name}`, () => check.run(env), 600_000);
  }
});
