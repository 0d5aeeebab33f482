/**
 * Every BLAS the native backend can open (MKL, BLIS, OpenBLAS, and oneDNN when BACKPACK_BLAS names
 * it) gives the same products: each library installed on this machine is forced with BACKPACK_BLAS
 * in its own process (the library is chosen once per process) and its matMuls — every transpose
 * combination, a batched and broadcast product, shapes large enough to reach the library's blocked
 * kernels — are compared with a float64 product computed here, and so are a Linear layer's centred
 * squares (Variance's moments: double GEMMs where the library has dgemm). A library that is not installed is
 * skipped, saying so; BACKPACK_BLAS naming a missing file must be a clear error, not a fallback.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeAvailability } from '../../src/backends/native/availability.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib', '/opt/intel/oneapi/mkl/latest/lib'];
const LIBRARIES: { file: string; names: RegExp }[] = [
  { file: 'libopenblas.so.0', names: /OpenBLAS/ },
  { file: 'libblis.so.4', names: /BLIS/ },
  { file: 'libmkl_rt.so.2', names: /MKL/ },
  { file: 'libdnnl.so.2', names: /oneDNN/ },
  { file: 'libdnnl.so.3', names: /oneDNN/ },
];

/** Runs in the child: products on native, printed with the library's description. */
const CHILD = `
import { tf } from './src/core/tf.ts';
import { useBackend } from './src/backends/select.ts';
import { nativeAvailability } from './src/backends/native/availability.ts';
const a = nativeAvailability();
if (!a.ok) { console.log(JSON.stringify({ error: a.reason })); process.exit(0); }
await useBackend('native');
import { readFileSync } from 'node:fs';
import { runKernel } from './src/core/ops/fused.ts';
import { CONV_WEIGHT_SQUARES } from './src/core/ops/kernel-names.ts';
import { windowGeometry } from './src/nn/geometry.ts';
const { cases, centred: c } = JSON.parse(readFileSync(0, 'utf8'));
const out = cases.map(({ aShape, bShape, ta, tb, a, b }) => {
  const y = tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), ta, tb);
  return { shape: y.shape, values: Array.from(y.dataSync()) };
});
const geom = windowGeometry([1], [1], [1], [1], [0], [0], 'linear');
const sq = runKernel(CONV_WEIGHT_SQUARES, { x: tf.tensor(c.x, [c.n, c.C, 1]), V: tf.tensor(c.V, [1, c.n, c.O, 1]), shift: tf.tensor(c.shift, [c.O, c.C, 1]) }, { geom, groups: 1, mode: 'centred' });
console.log(JSON.stringify({ library: a.library, backend: tf.getBackend(), out, centred: Array.from(sq.dataSync()) }));
`;

interface MatMulCase { aShape: number[]; bShape: number[]; ta: boolean; tb: boolean; a: number[]; b: number[] }

function seeded(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

function makeCases(): MatMulCase[] {
  const shapes: [number[], number[], boolean, boolean][] = [
    [[37, 53], [53, 29], false, false],
    [[53, 37], [53, 29], true, false],
    [[37, 53], [29, 53], false, true],
    [[53, 37], [29, 53], true, true],
    [[130, 300], [300, 70], false, false], // past the libraries' register blocks and small-size paths
    [[3, 17, 9], [1, 9, 11], false, false], // batched, b broadcast over the batch
    [[2, 9, 17], [2, 11, 9], true, true],
  ];
  return shapes.map(([aShape, bShape, ta, tb], i) => ({
    aShape, bShape, ta, tb,
    a: seeded(aShape.reduce((p, d) => p * d, 1), 11 + i),
    b: seeded(bShape.reduce((p, d) => p * d, 1), 101 + i),
  }));
}

/** A Linear layer's per-sample Jacobians J_n = V_n x_nᵀ (float products, as BatchGrad makes them), about their mean. */
interface CentredCase { n: number; C: number; O: number; x: number[]; V: number[]; shift: number[] }

function makeCentred(): CentredCase {
  const [n, C, O] = [24, 50, 40];
  const x = seeded(n * C, 7).map(Math.fround);
  const V = seeded(n * O, 8).map(Math.fround);
  const mean = new Float64Array(O * C);
  for (let k = 0; k < n; k++) for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) mean[o * C + c] += Math.fround(V[k * O + o] * x[k * C + c]) / n;
  return { n, C, O, x, V, shift: Array.from(mean, Math.fround) };
}

/** [Σ (J − s), Σ (J − s)²] in float64. */
function centredReference(c: CentredCase): number[] {
  const out = new Array<number>(2 * c.O * c.C).fill(0);
  for (let k = 0; k < c.n; k++) {
    for (let o = 0; o < c.O; o++) {
      for (let j = 0; j < c.C; j++) {
        const d = Math.fround(c.V[k * c.O + o] * c.x[k * c.C + j]) - c.shift[o * c.C + j];
        out[o * c.C + j] += d;
        out[c.O * c.C + o * c.C + j] += d * d;
      }
    }
  }
  return out;
}

/** The float64 product of a case (row-major, batch dims broadcast), as tfjs lays it out. */
function reference(c: MatMulCase): number[] {
  const batchA = c.aShape.length === 3 ? c.aShape[0] : 1;
  const batchB = c.bShape.length === 3 ? c.bShape[0] : 1;
  const [ar, ac] = c.aShape.slice(-2);
  const [br, bc] = c.bShape.slice(-2);
  const [m, k] = c.ta ? [ac, ar] : [ar, ac];
  const n = c.tb ? br : bc;
  const out: number[] = [];
  for (let batch = 0; batch < Math.max(batchA, batchB); batch++) {
    const ao = (batchA === 1 ? 0 : batch) * ar * ac;
    const bo = (batchB === 1 ? 0 : batch) * br * bc;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          s += c.a[ao + (c.ta ? p * ac + i : i * ac + p)] * c.b[bo + (c.tb ? j * bc + p : p * bc + j)];
        }
        out.push(s);
      }
    }
  }
  return out;
}

function runChild(blas: string, cases: MatMulCase[], centred: CentredCase) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: ROOT, encoding: 'utf8', timeout: 120_000, input: JSON.stringify({ cases, centred }),
    env: { ...process.env, BACKPACK_BLAS: blas },
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(line) as { error?: string; library?: string; backend?: string; out?: { shape: number[]; values: number[] }[]; centred?: number[] };
}

const native = nativeAvailability();
const describeIfBuilt = native.ok || /BLAS/.test(native.reason) ? describe : describe.skip;

describeIfBuilt('every BLAS library the native backend opens gives the same products', () => {
  const cases = makeCases();
  const centred = makeCentred();
  for (const lib of LIBRARIES) {
    const found = LIB_DIRS.map((d) => path.join(d, lib.file)).find((p) => existsSync(p));
    const test = found ? it : it.skip;
    test(`${lib.file}${found ? '' : ' (not installed here)'}`, () => {
      const r = runChild(found!, cases, centred);
      expect(r.error).toBeUndefined();
      expect(r.backend).toBe('native');
      expect(r.library).toMatch(lib.names);
      r.out!.forEach((y, i) => {
        const want = reference(cases[i]);
        expect(y.values.length).toBe(want.length);
        const scale = Math.max(...want.map(Math.abs));
        const worst = Math.max(...y.values.map((v, j) => Math.abs(v - want[j])));
        expect(worst / scale).toBeLessThan(1e-5);
      });
      // Σ (J − s) is ~0 (s is the mean): judged against Σ |J|'s scale; Σ (J − s)² element by element.
      const want = centredReference(centred);
      const half = want.length / 2;
      const got = r.centred!;
      const sumScale = Math.max(...want.slice(half).map(Math.sqrt)) * centred.n;
      for (let j = 0; j < half; j++) expect(Math.abs(got[j] - want[j]) / sumScale).toBeLessThan(1e-6);
      for (let j = half; j < want.length; j++) expect(Math.abs(got[j] - want[j]) / want[j]).toBeLessThan(1e-5);
    }, 120_000);
  }

  it('BACKPACK_BLAS naming a missing library is an error that names it, not a fallback', () => {
    const r = runChild('/nonexistent/libnoblas.so', cases.slice(0, 1), makeCentred());
    expect(r.error).toMatch(/BACKPACK_BLAS could not be loaded/);
    expect(r.error).toMatch(/libnoblas\.so/);
  }, 120_000);
});
