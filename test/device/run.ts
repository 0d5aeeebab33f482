/**
 * The device checks without vitest: the entry of the bundle scripts/device-check.sh carries to a
 * GPU machine that has no Node packages. Runs every check in order, one line each, then
 * `N passed, N failed` (CI's closing line) and writes a JSON report.
 *
 *   node device-checks.cjs [--out DIR] [--only SUBSTRING] [--require-gpu]
 *
 * --require-gpu fails (exit 2) where no GPU is usable instead of skipping (exit 0): on the GPU
 * machine an unusable device is an error, not a reason to pass.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deviceChecks } from './checks.ts';
import { defaultFixtureRoot, type CheckEnv, type CliResult } from './harness.ts';
import { deviceStatus } from './status.ts';

const argv = process.argv.slice(2);
const value = (flag: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
const out = value('--out');
const only = value('--only');

/** `backpack-ts` as a child process: BACKPACK_CLI (the bundled CLI), else the repository's sources. */
function runCli(args: string[]): Promise<CliResult> {
  const cli = process.env.BACKPACK_CLI;
  const cmd = cli ? [cli, ...args] : [path.resolve('src/cli/source-entry.mjs'), ...args];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, cmd, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
  });
}

async function main(): Promise<number> {
  const status = deviceStatus();
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  say(`device: ${status.usable ? `${status.description}${status.emulated ? ' [host emulation]' : ''}, ${status.gpus} GPU(s) visible` : `not usable: ${status.reason}`}`);
  say(`reference: ${status.reference} (${status.referenceLibrary})`);
  if (!status.usable) {
    say(`device checks skipped: ${status.reason}`);
    say('0 passed, 0 failed');
    return argv.includes('--require-gpu') ? 2 : 0;
  }

  const env: CheckEnv = { runCli, fixtureRoot: defaultFixtureRoot(), log: say };
  const results: { group: string; name: string; ok: boolean; ms: number; error?: string }[] = [];
  for (const check of deviceChecks()) {
    if (only && !`${check.group} ${check.name}`.includes(only)) continue;
    const t0 = performance.now();
    try {
      await check.run(env);
      results.push({ group: check.group, name: check.name, ok: true, ms: performance.now() - t0 });
      say(`ok   ${check.group}: ${check.name} (${(performance.now() - t0).toFixed(0)} ms)`);
    } catch (e) {
      const error = ((e as Error).stack ?? String(e)).split('\n').slice(0, 6).join('\n');
      results.push({ group: check.group, name: check.name, ok: false, ms: performance.now() - t0, error });
      say(`FAIL ${check.group}: ${check.name}\n     ${error.replace(/\n/g, '\n     ')}`);
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  say(`${results.length - failed} passed, ${failed} failed`);
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'device-checks.json'), `${JSON.stringify({ status, results }, null, 1)}\n`);
    writeFileSync(path.join(out, 'device-checks.log'), `${lines.join('\n')}\n`);
  }
  return failed === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
