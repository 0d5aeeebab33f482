/**
 * `backpack-ts spectrum` end to end on generated data (an MLP, N = 11, read in batches of 4):
 * spectrum.json's top eigenvalues match the dense autodiff GGN's at rtol 1e-4; the eigenvector file
 * holds [k, *θ] per parameter (the `run --vectors` layout) with A·v ≈ λv; the trace is within its
 * stated bound; the density's weights sum to 1; reading the same rows as a data set (--data) gives
 * the same numbers bit for bit; every malformed input is one typed error line with its exit code.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkVectors } from '../../src/api/vectors.ts';
import { useBackend } from '../../src/backends/select.ts';
import { encodeNpy } from '../../src/io/npy.ts';
import { encodeSafetensors } from '../../src/io/safetensors.ts';
import { readTensorMap } from '../../src/io/tensor-file.ts';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { buildNetwork, type Network } from '../../src/nn/network.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { symmetricEigen } from '../helpers/jacobi-eigen.ts';
import { runCli } from '../helpers/cli.ts';
import { denseGGN, matVec, traceOf } from '../helpers/dense-curvature.ts';
import { mulberry32, randomBatch, randomWeights } from '../helpers/oracle.ts';

const MODEL = {
  input_shape: [3],
  layers: [{ type: 'Linear', in_features: 3, out_features: 5 }, { type: 'Tanh' }, { type: 'Linear', in_features: 5, out_features: 3 }],
  loss: { type: 'CrossEntropyLoss', reduction: 'mean' },
};
const N = 11;
const LINE = /^error \[E_[A-Z_]+\] [A-Za-z]+Error: .+\n$/;

let dir: string;
let net: Network;
let batch: { inputs: HostTensor; targets: HostTensor };
const file = (name: string) => path.join(dir, name);

beforeAll(async () => {
  await useBackend('cpu');
  dir = mkdtempSync(path.join(tmpdir(), 'bp-spectrum-'));
  const spec = parseModelSpec(MODEL);
  const weights = randomWeights(spec, mulberry32(2));
  net = buildNetwork(spec, weights);
  batch = randomBatch(net, N, mulberry32(9));
  writeFileSync(file('model.json'), JSON.stringify(MODEL));
  writeFileSync(file('w.safetensors'), encodeSafetensors(weights));
  writeFileSync(file('x.npy'), encodeNpy(batch.inputs));
  writeFileSync(file('y.npy'), encodeNpy(batch.targets));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = ['--model', 'model.json', '--weights', 'w.safetensors', '--backend', 'cpu', '--workers', '0', '--batch-size', '4', '--shard-size', '3', '--quiet'];
const spectrum = (args: string[]) => runCli(['spectrum', ...BASE.map((a) => (a.endsWith('.json') || a.endsWith('.safetensors') ? file(a) : a)), ...args]);
const readJson = (out: string) => JSON.parse(readFileSync(path.join(out, 'spectrum.json'), 'utf8'));
const ALL = ['--top-k', '3', '--eigenvectors', '--density', '--probes', '3', '--steps', '6', '--trace', 'hutchpp', '--trace-products', '15', '--seed', '3'];

describe('spectrum on tensor files', () => {
  it('eigenvalues, eigenvectors, density and trace against the dense GGN', async () => {
    const out = file('out-files');
    const r = await spectrum(['--inputs', file('x.npy'), '--targets', file('y.npy'), '--out', out, ...ALL]);
    expect(r.code, r.stderr).toBe(0);
    const j = readJson(out);
    const { G, P } = denseGGN(net, batch.inputs, batch.targets);
    expect(j.dimension).toBe(P);
    expect(j.N).toBe(N);
    const exact = symmetricEigen(G, P).values.slice(-3).reverse();
    j.eigenvalues.top.forEach((p: { value: number }, i: number) => expect(Math.abs(p.value - exact[i]), `top ${i}`).toBeLessThanOrEqual(1e-4 * exact[i]));
    expect(j.products).toBe(j.eigenvalues.products + j.density.products + j.trace.products);
    expect(j.density.products).toBe(18);
    expect(Math.abs(j.density.weights.reduce((a: number, b: number) => a + b, 0) - 1)).toBeLessThan(1e-12);
    expect(Math.abs(j.trace.estimate - traceOf(G, P))).toBeLessThanOrEqual(j.trace.errorBound);
    // Eigenvectors: [k, *θ] per parameter, accepted as GGNMP vectors, and eigenvectors of G.
    const vecs = await readTensorMap(path.join(out, 'eigenvectors-top.safetensors'));
    checkVectors(vecs, net.paramShapes, 'eigenvectors');
    for (let k = 0; k < 3; k++) {
      const v = Float64Array.from(net.paramNames.flatMap((p) => {
        const t = vecs.get(p)!;
        const size = t.data.length / 3;
        return [...(t.data as Float64Array).subarray(k * size, (k + 1) * size)];
      }));
      const Gv = matVec(G, P, v);
      const lambda = j.eigenvalues.top[k].value;
      expect(Math.max(...Gv.map((x, i) => Math.abs(x - lambda * v[i])))).toBeLessThan(1e-3 * exact[0]);
    }
  });

  it('the same rows as a data set (--data) give the same numbers bit for bit', async () => {
    const a = await spectrum(['--inputs', file('x.npy'), '--targets', file('y.npy'), '--out', file('out-a'), ...ALL]);
    const b = await spectrum(['--data', file('x.npy'), '--out', file('out-b'), ...ALL]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const strip = (j: Record<string, unknown>) => ({ ...j, data: null, timings: null });
    expect(strip(readJson(file('out-b')))).toEqual(strip(readJson(file('out-a'))));
    expect(readFileSync(path.join(file('out-b'), 'eigenvectors-top.safetensors'))).toEqual(readFileSync(path.join(file('out-a'), 'eigenvectors-top.safetensors')));
  });

  it('--max-samples takes the first rows only (ρ = 1/N of those)', async () => {
    const r = await spectrum(['--data', file('x.npy'), '--max-samples', '5', '--out', file('out-5'), '--top-k', '1', '--trace', 'hutchinson', '--trace-products', '200']);
    expect(r.code, r.stderr).toBe(0);
    const j = readJson(file('out-5'));
    const head = { inputs: { ...batch.inputs, shape: [5, 3], data: batch.inputs.data.subarray(0, 15) }, targets: { ...batch.targets, shape: [5], data: batch.targets.data.subarray(0, 5) } } as { inputs: HostTensor; targets: HostTensor };
    const { G, P } = denseGGN(net, head.inputs, head.targets);
    expect(j.N).toBe(5);
    expect(j.trace.exact).toBe(true);
    expect(Math.abs(j.trace.estimate - traceOf(G, P))).toBeLessThanOrEqual(1e-5 * traceOf(G, P));
  });
});

describe('malformed input: one typed error line, non-zero exit', () => {
  const cases: [string, string[], number, RegExp][] = [
    ['no data', ['--out', 'o1'], 2, /UsageError: the data is missing/],
    ['both kinds of data', ['--data', 'x.npy', '--inputs', 'x.npy', '--targets', 'y.npy', '--out', 'o2'], 2, /either as --data or as --inputs/],
    ['--probes without --density', ['--inputs', 'x.npy', '--targets', 'y.npy', '--probes', '3', '--out', 'o3'], 2, /--probes, --steps and --grid-points need --density/],
    ['nothing to compute', ['--inputs', 'x.npy', '--targets', 'y.npy', '--top-k', '0', '--out', 'o4'], 2, /nothing to compute/],
    ['a bad --tol', ['--inputs', 'x.npy', '--targets', 'y.npy', '--tol', 'abc', '--out', 'o5'], 2, /--tol must be a positive number, got 'abc'/],
    ['--top-k above n', ['--inputs', 'x.npy', '--targets', 'y.npy', '--top-k', '1000', '--out', 'o6'], 2, /top = 1000 exceeds the dimension 38/],
    ['an unknown trace method', ['--inputs', 'x.npy', '--targets', 'y.npy', '--trace', 'xyz', '--out', 'o7'], 2, /--trace.*xyz/],
    ['Hutch++ with too small a budget', ['--inputs', 'x.npy', '--targets', 'y.npy', '--trace', 'hutchpp', '--trace-products', '4', '--out', 'o8'], 2, /at least 6 products/],
    ['inputs of the wrong shape', ['--inputs', 'y.npy', '--targets', 'y.npy', '--out', 'o9'], 3, /ShapeError: inputs: shape \[11\] does not match the model's input_shape \[3\]/],
    ['a missing weights file', ['--inputs', 'x.npy', '--targets', 'y.npy', '--weights', 'nope.safetensors', '--out', 'o10'], 3, /nope\.safetensors/],
  ];
  it.each(cases)('%s', async (_label, args, code, message) => {
    const r = await spectrum(args.map((a) => (a.endsWith('.npy') || a.startsWith('o') || a.startsWith('nope') ? file(a) : a)));
    expect(r.stderr).toMatch(LINE);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
  });
});
