/**
 * The conformance harness: a case is a kernel, its inputs and how to call it; `checkCase` runs it
 * on the `native` backend and on tfjs's `cpu` backend (or a plain-JS oracle where the cpu backend
 * is known to be wrong), then compares shapes, dtypes and values. On native it also checks that
 * the kernel under test was really dispatched (a tf op may route around it) and that no tensor
 * or native data record leaked.
 *
 * Run: `npx vitest run test/native` (skipped, saying why, where the addon is not built);
 * `BP_SHOW_FINDINGS=1` runs the cases marked as findings as plain tests, to see how each fails.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { getKernelsForBackend, type KernelFunc } from '@tensorflow/tfjs-core';
import { tf } from '../../src/core/tf.ts';
import { useBackend } from '../../src/backends/select.ts';
import { nativeAvailability } from '../../src/backends/native/availability.ts';
import type { NativeBackend } from '../../src/backends/native/backend.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { generate, type Input } from './inputs.ts';

export type Out = tf.Tensor | tf.Tensor[];

/** A result read back to the host. */
export interface HostTensor {
  shape: number[];
  dtype: tf.DataType;
  values: number[];
}

export interface Case {
  /** Unique: it names the test and seeds the inputs. */
  name: string;
  /** The native kernel this case exercises (it must be dispatched). */
  kernel: string;
  inputs: Input[];
  /** What runs on native (and on cpu unless `reference` is given). */
  run: (xs: tf.Tensor[]) => Out;
  /** What runs on cpu instead, where the cpu backend has no such kernel (composites of tf ops). */
  reference?: (xs: tf.Tensor[]) => Out;
  /** A plain-JS oracle replacing the cpu backend where tfjs 4.22 is wrong; `why` says how. */
  oracle?: { why: string; compute: (xs: HostTensor[]) => HostTensor[] };
  /** Exact equality (data movement, integer and boolean results) instead of float32 closeness. */
  exact?: boolean;
  /** Relative to the largest expected magnitude (default 1e-5). */
  rtol?: number;
  atol?: number;
  /**
   * Set where native is known to disagree and it is a real native bug: the test then runs as
   * `it.fails` (and starts failing, as a reminder to drop this, once the kernel is fixed).
   */
  finding?: string;
}

export const native = nativeAvailability();

/** A whole file's suite, or one visible skipped test saying why native cannot run here. */
export function describeNative(title: string, body: () => void): void {
  if (!native.ok) {
    const why = `SKIPPED: the native backend is unavailable here (${native.reason}); build it with \`npm run build:native\``;
    // The default reporter shows a skipped file without its tests' names: say why on stderr too.
    console.warn(`${title}: ${why}`);
    describe(title, () => it.skip(why, () => {}));
    return;
  }
  describe(title, () => {
    beforeAll(async () => {
      await useBackend('cpu');
      await useBackend('native');
      installDispatchRecorder();
    });
    body();
  });
}

// ---- dispatch recording --------------------------------------------------------------------

const dispatched = new Set<string>();
let recorderInstalled = false;

/**
 * Wraps every native kernel function so the suite sees which kernels a case really ran. NOTE: the
 * registry hands back the registered config objects themselves, and the engine reads
 * `kernelFunc` at each call, so wrapping them in place takes effect at once.
 */
function installDispatchRecorder(): void {
  if (recorderInstalled) return;
  recorderInstalled = true;
  for (const config of getKernelsForBackend('native')) {
    const f = config.kernelFunc;
    config.kernelFunc = ((args: Parameters<KernelFunc>[0]) => {
      dispatched.add(config.kernelName);
      return f(args);
    }) as KernelFunc;
  }
}

export const nativeBackend = () => tf.engine().findBackend('native') as unknown as NativeBackend;

// ---- running -------------------------------------------------------------------------------

function toHost(t: tf.Tensor): HostTensor {
  // Array.from copies: nothing keeps a native view (and so its buffer) alive past the case.
  return { shape: [...t.shape], dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number>) };
}

/** Typed arrays spare tf.tensor its nested-array checks (slow for large inputs). */
const typed = (x: HostTensor) => (x.dtype === 'float32' ? Float32Array : x.dtype === 'int32' ? Int32Array : Uint8Array).from(x.values);

function evaluate(f: (xs: tf.Tensor[]) => Out, inputs: HostTensor[]): HostTensor[] {
  let out: HostTensor[] = [];
  tf.tidy(() => {
    const xs = inputs.map((x) => tf.tensor(typed(x), x.shape, x.dtype));
    const y = f(xs);
    out = (Array.isArray(y) ? y : [y]).map(toHost);
  });
  return out;
}

/** A case's outputs on native alone (same inputs as in checkCase). */
export async function nativeOutputs(c: Case): Promise<HostTensor[]> {
  await tf.setBackend('native');
  return evaluate(c.run, c.inputs.map((spec, i) => generate(spec, `${c.name}#${i}`)));
}

/** Runs a case on both sides and returns [native, expected], checking dispatch and leaks. */
export async function runCase(c: Case): Promise<{ got: HostTensor[]; want: HostTensor[] }> {
  const inputs = c.inputs.map((spec, i) => generate(spec, `${c.name}#${i}`));
  let want: HostTensor[];
  if (c.oracle) {
    want = c.oracle.compute(inputs);
  } else {
    await tf.setBackend('cpu');
    want = evaluate(c.reference ?? c.run, inputs);
  }
  await tf.setBackend('native');
  const backend = nativeBackend();
  const tensors = tf.memory().numTensors;
  const records = backend.numDataIds();
  dispatched.clear();
  const got = evaluate(c.run, inputs);
  expect([...dispatched], `${c.name}: kernels dispatched on native`).toContain(c.kernel);
  expect(tf.memory().numTensors, `${c.name}: tensors left after tidy`).toBe(tensors);
  expect(backend.numDataIds(), `${c.name}: native data records left after tidy`).toBe(records);
  return { got, want };
}

/** Runs a case and asserts native agrees with the reference. */
export async function checkCase(c: Case): Promise<void> {
  const { got, want } = await runCase(c);
  expect(got.length, `${c.name}: number of outputs`).toBe(want.length);
  got.forEach((g, i) => compareHost(g, want[i], c, `${c.name} [output ${i}]`));
}

/** Equality of values: NaN equals NaN; -0 equals 0 (no kernel here is specified down to the zero's sign). */
const same = (a: number, b: number) => a === b || (a !== a && b !== b);

export function compareHost(got: HostTensor, want: HostTensor, c: Pick<Case, 'exact' | 'rtol' | 'atol'>, label: string): void {
  expect(got.shape, `${label}: shape`).toEqual(want.shape);
  expect(got.dtype, `${label}: dtype`).toBe(want.dtype);
  expect(got.values.length, `${label}: size`).toBe(want.values.length);
  if (c.exact || want.dtype !== 'float32') {
    const bad = want.values.findIndex((w, i) => !same(got.values[i], w));
    if (bad >= 0) {
      const count = want.values.filter((w, i) => !same(got.values[i], w)).length;
      expect.fail(`${label}: ${count} of ${want.values.length} elements differ; first at ${bad}: got ${got.values[bad]}, expected ${want.values[bad]}`);
    }
    return;
  }
  // NaN and ±Inf must sit in the same places; the finite rest is compared with float32 tolerance
  // (non-finite pairs, once matched, are zeroed so that element indices stay those of the tensor).
  const wantFinite = want.values.slice();
  const gotFinite = got.values.slice();
  want.values.forEach((w, i) => {
    if (Number.isFinite(w)) return;
    if (!same(got.values[i], w)) expect.fail(`${label}: element ${i}: got ${got.values[i]}, expected ${w}`);
    wantFinite[i] = gotFinite[i] = 0;
  });
  expectClose(gotFinite, wantFinite, { rtol: c.rtol ?? 1e-5, atol: c.atol ?? 0, label });
}

/**
 * One test per case of a table; cases with a finding run as `it.fails`, named as findings.
 * BP_SHOW_FINDINGS=1 runs them as plain tests, to see how each one fails.
 */
export function caseTests(cases: Case[]): void {
  const show = process.env.BP_SHOW_FINDINGS === '1';
  for (const c of cases) {
    if (c.finding && !show) it.fails(`${c.name} — FINDING: ${c.finding}`, () => checkCase(c));
    else it(c.name, () => checkCase(c));
  }
}

/** Attaches findings (case name → what is wrong) to a table; every name must exist. */
export function withFindings(cases: Case[], findings: Record<string, string>): Case[] {
  const names = new Set(cases.map((c) => c.name));
  for (const name of Object.keys(findings)) if (!names.has(name)) throw new Error(`finding for unknown case '${name}'`);
  return cases.map((c) => (findings[c.name] ? { ...c, finding: findings[c.name] } : c));
}
