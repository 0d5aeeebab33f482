/**
 * The cuda device without a GPU: its sources built by g++ against a host emulation of the CUDA
 * runtime and cuBLAS (native/src/cuda/emulation/: blocks run in turn, threads as fibers in
 * lockstep, so __syncthreads and warp shuffles behave; memory starts as NaN bytes, so unwritten
 * outputs show), loaded as the cuda backend's addon, and the device checks run on it (all but the
 * slowest: the 512³ TF32 GEMM and the sharded fixture runs with shards of 3). What this cannot
 * show: real GPU concurrency, the GPU's math library, launch limits, the real cuBLAS and TF32 —
 * `npm run test:device` on a GPU does (scripts/device-check.sh).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, it } from 'vitest';
import { deviceChecks } from '../device/checks.ts';
import { defaultFixtureRoot } from '../device/harness.ts';
import { deviceStatus } from '../device/status.ts';
import { runCli } from '../helpers/cli.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EMULATION = path.join(ROOT, 'native/build/emu/backpack_native_emu.node');
// Before anything loads the cuda addon (lazily, at the first check): this file's process, and the
// worker processes it starts, use the emulation as their "GPU".
process.env.BACKPACK_CUDA_ADDON = EMULATION;

const compiler = (() => {
  for (const c of [process.env.CXX, 'c++', 'g++']) {
    if (!c) continue;
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      // next
    }
  }
  return false;
})();

const SLOW = [/changes a large GEMM/, /sharded over the GPUs \(--devices\), shard size 3/];

describe.runIf(compiler)('cuda device on the host emulation', () => {
  const env = { runCli, fixtureRoot: defaultFixtureRoot(), log: () => {} };

  beforeAll(() => {
    // Incremental: only what changed is rebuilt (the first build takes a few minutes on 2 cores).
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-native.mjs'), '--cuda-emulation'], { cwd: ROOT, stdio: 'pipe', timeout: 1_200_000 });
  }, 1_200_000);

  for (const check of deviceChecks().filter((c) => !SLOW.some((re) => re.test(c.name)))) {
    it(`${check.group}: ${check.name}`, async () => {
      const status = deviceStatus();
      if (!status.usable || !status.emulated) throw new Error(`the emulated cuda device did not load: ${status.reason}`);
      await check.run(env);
    }, 300_000);
  }
});
