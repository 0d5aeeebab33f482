/**
 * The device checks as plain async functions (no test framework), so the same checks run under
 * vitest here (`npm run test:device`, test/device/device.device.ts) and from the self-contained
 * bundle on a GPU machine without Node's packages (test/device/run.ts, scripts/device-check.sh).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CliResult {
  code: number;
  stderr: string;
}

export interface CheckEnv {
  /** Runs `backpack-ts <args>` (in-process under vitest, a child process from the bundle). */
  runCli(args: string[]): Promise<CliResult>;
  /** BackPACK's float64 fixtures (test/fixtures/backpack, or BACKPACK_FIXTURES). */
  fixtureRoot: string;
  log(message: string): void;
}

export interface DeviceCheck {
  group: string;
  name: string;
  run(env: CheckEnv): Promise<void> | void;
}

export class CheckFailure extends Error {}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new CheckFailure(message);
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * |got − want| ≤ atol + rtol·max|want| elementwise (relative to the largest finite magnitude of the
 * expected tensor, as the fixtures are compared); NaN must meet NaN, ±∞ the same infinity.
 */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, label: string, rtol = 1e-4, atol = 0): number {
  assert(got.length === want.length, `${label}: length ${got.length}, expected ${want.length}`);
  const tol = atol + rtol * maxAbs(want);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) || !Number.isFinite(w)) {
      assert(Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)) || g === w, `${label}: element ${i}: got ${g}, expected ${w}`);
      continue;
    }
    const d = Math.abs(g - w);
    assert(d <= tol, `${label}: element ${i}: got ${g}, expected ${w} (|diff| ${d.toExponential(3)} > ${tol.toExponential(3)})`);
    worst = Math.max(worst, d);
  }
  return worst / (maxAbs(want) || 1);
}

export function assertEqual(got: ArrayLike<number>, want: ArrayLike<number>, label: string): void {
  assert(got.length === want.length, `${label}: length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const same = Object.is(got[i] + 0, want[i] + 0) || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    assert(same, `${label}: element ${i}: got ${got[i]}, expected ${want[i]}`);
  }
}

/** The fixtures' folder: BACKPACK_FIXTURES, else the project's own copy (test/fixtures/backpack). */
export function defaultFixtureRoot(): string {
  if (process.env.BACKPACK_FIXTURES) return process.env.BACKPACK_FIXTURES;
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '../fixtures/backpack');
}

export const fixturesPresent = (root: string) => existsSync(root);
