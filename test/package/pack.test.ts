/**
 * SLOW (about a minute; CI's check of the published package): `npm pack` (whose `prepare` compiles
 * dist/), then an install of the tarball into an empty temporary folder, as a user would, and from
 * there: the `backpack-ts` binary (--version, the demo), the library API by its package name from
 * JavaScript and from TypeScript (its declarations). Results are checked against tfjs autodiff run
 * here on the sources. The install skips install scripts, so the native addon is not compiled
 * (minutes) and `auto` picks wasm; BACKPACK_PACK_TEST_NATIVE=1 runs them (the addon builds from the
 * tarball's native/src) and the demo then uses native.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/select.ts';
import { blobs, initWeights } from '../../src/data/synthetic.ts';
import { readTensorMap, writeNpyFile, writeSafetensorsFile } from '../../src/io/tensor-file.ts';
import { buildNetwork, disposeNetwork } from '../../src/nn/network.ts';
import { readModelSpec } from '../../src/nn/parse-spec.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { autodiffPerSample, expectedQuantities, values } from '../helpers/oracle.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const NATIVE = process.env.BACKPACK_PACK_TEST_NATIVE === '1';

let tmp: string;
let app: string;
let files: string[];

/** Runs a command; its output joins the error when it fails. */
function sh(cmd: string, args: string[], cwd: string, timeout = 600_000): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
  } catch (e) {
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e as Error).message}\n${stdout}\n${stderr}`.slice(0, 8000));
  }
}

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'bp-pack-'));
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', tmp], ROOT)) as { filename: string; files: { path: string }[] }[];
  files = packed[0].files.map((f) => f.path);
  app = path.join(tmp, 'app');
  execFileSync('mkdir', [app]);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'bp-pack-check', private: true, type: 'module' }));
  sh('npm', ['install', '--prefer-offline', ...(NATIVE ? [] : ['--ignore-scripts']), path.join(tmp, packed[0].filename)], app);
}, 900_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the npm package, installed from its tarball into an empty folder', () => {
  it('ships the compiled code, the native sources and their build script, and no tests or sources', () => {
    for (const f of ['bin/backpack-ts.mjs', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/entry.js', 'dist/src/worker/thread-worker.js', 'dist/src/worker/process-worker.js', 'dist/queue/worker.js', 'scripts/build-native.mjs', 'native/src/napi/module.cc', 'examples/mlp/model.json', 'package.json']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.endsWith('.tsbuildinfo'))).toEqual([]);
  });

  it('backpack-ts --version prints the package version', () => {
    expect(sh(path.join(app, 'node_modules/.bin/backpack-ts'), ['--version'], app).trim()).toBe(VERSION);
  });

  it('runs the demo on worker threads, and its MLP results equal tfjs autodiff', async () => {
    const out = sh(path.join(app, 'node_modules/.bin/backpack-ts'), ['demo', '--out', 'demo'], app);
    expect(out).toMatch(new RegExp(`backend ${NATIVE ? 'native' : 'wasm'}`));
    const results = await readTensorMap(path.join(app, 'demo/mlp/results.safetensors'));
    // The demo's MLP job: examples/mlp, initWeights(spec, 0), blobs(spec, 256, 10).
    await useBackend('cpu');
    const spec = await readModelSpec(path.join(ROOT, 'examples/mlp/model.json'));
    const net = buildNetwork(spec, initWeights(spec, 0));
    const { inputs, targets } = blobs(spec, 256, 10);
    const { grads } = autodiffPerSample(net, inputs, targets);
    for (const name of net.paramNames) {
      const e = expectedQuantities(grads.get(name)!);
      expectClose(values(results.get(`${name}.grad`)), e.grad, { rtol: 1e-4, label: `${name}.grad` });
      expectClose(values(results.get(`${name}.variance`)), e.variance, { rtol: 1e-3, label: `${name}.variance` });
    }
    disposeNetwork(net);
  }, 300_000);

  it("imports the library by the package's name (JavaScript); its per-sample norms equal tfjs autodiff", async () => {
    await useBackend('cpu');
    const specFile = path.join(ROOT, 'examples/mlp/model.json');
    const spec = await readModelSpec(specFile);
    const weights = initWeights(spec, 5);
    const { inputs, targets } = blobs(spec, 6, 10, 9);
    await writeSafetensorsFile(path.join(app, 'w.safetensors'), weights);
    await writeNpyFile(path.join(app, 'x.npy'), inputs);
    await writeNpyFile(path.join(app, 'y.npy'), targets);
    writeFileSync(path.join(app, 'lib.mjs'), `
      import { useBackend, readModelSpec, readTensorMap, readTensorFile, buildNetwork, runBatch } from 'backpack-ts';
      await useBackend('cpu');
      const net = buildNetwork(await readModelSpec(process.argv[2]), await readTensorMap('w.safetensors'));
      const r = runBatch(net, await readTensorFile('x.npy'), await readTensorFile('y.npy'), { extensions: ['BatchL2Grad'] });
      process.stdout.write(JSON.stringify({ loss: r.loss, l2: Object.fromEntries(net.paramNames.map((p) => [p, Array.from(r.results.get(p + '.batch_l2').data)])) }));
    `);
    const got = JSON.parse(sh('node', ['lib.mjs', specFile], app)) as { loss: number; l2: Record<string, number[]> };
    const net = buildNetwork(spec, weights);
    const { grads, loss } = autodiffPerSample(net, inputs, targets);
    expectClose([got.loss], [loss], { rtol: 1e-5, label: 'loss' });
    for (const name of net.paramNames) expectClose(got.l2[name], expectedQuantities(grads.get(name)!).batchL2, { rtol: 1e-4, label: `${name}.batch_l2` });
    disposeNetwork(net);
  }, 120_000);

  it('runs `backpack-ts run` on worker processes (the compiled process entry); BatchL2Grad equals tfjs autodiff', async () => {
    await useBackend('cpu');
    const specFile = path.join(ROOT, 'examples/mlp/model.json');
    const spec = await readModelSpec(specFile);
    const weights = initWeights(spec, 6);
    const { inputs, targets } = blobs(spec, 8, 10, 4);
    await writeSafetensorsFile(path.join(app, 'w2.safetensors'), weights);
    await writeNpyFile(path.join(app, 'x2.npy'), inputs);
    await writeNpyFile(path.join(app, 'y2.npy'), targets);
    sh(path.join(app, 'node_modules/.bin/backpack-ts'), ['run', '--model', specFile, '--weights', 'w2.safetensors', '--inputs', 'x2.npy', '--targets', 'y2.npy', '--extensions', 'BatchL2Grad', '--pool', 'processes', '--workers', '2', '--shard-size', '4', '--out', 'run2', '--quiet'], app);
    const results = await readTensorMap(path.join(app, 'run2/results.safetensors'));
    const net = buildNetwork(spec, weights);
    const { grads } = autodiffPerSample(net, inputs, targets);
    for (const name of net.paramNames) expectClose(values(results.get(`${name}.batch_l2`)), expectedQuantities(grads.get(name)!).batchL2, { rtol: 1e-4, label: `${name}.batch_l2` });
    disposeNetwork(net);
  }, 120_000);

  it('type-checks a TypeScript program against the published declarations', () => {
    writeFileSync(path.join(app, 'check.ts'), `
      import { runBatch, readTensorFile, type RunResult, type HostTensor, UsageError } from 'backpack-ts';
      const t: HostTensor = { dtype: 'float32', shape: [1], data: new Float32Array(1) };
      export const loss = (r: RunResult): number => r.loss;
      export const file: Promise<HostTensor> = readTensorFile('x.npy');
      export const usage: Error = new UsageError('x');
      // Were the declarations unresolved, these would be 'any' and the expected errors would not occur.
      // @ts-expect-error runBatch takes a network, inputs, targets and options
      runBatch(t);
      // @ts-expect-error a HostTensor has no 'values'
      export const bad = t.values;
    `);
    // skipLibCheck: tfjs-core's own declarations need @types/long, which a user's 'types' may leave out.
    writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules/@types')] }, files: ['check.ts'] }));
    expect(existsSync(path.join(app, 'node_modules/backpack-ts/dist/src/index.d.ts'))).toBe(true);
    sh(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
  }, 120_000);
});
