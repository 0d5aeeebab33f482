/**
 * BackPACK's float64 fixtures through `backpack-ts run --backend cuda` (as test/cli/fixtures.test.ts
 * does on the other backends): every quantity BackPACK computed, rtol 1e-4 relative to the
 * largest magnitude, in this process (--workers 0) and sharded over every GPU present (--devices
 * 0,…,G−1: one worker process per GPU, each on device 0 of its CUDA_VISIBLE_DEVICES), with shards
 * of 3 and whole. summary.json must say cuda and TF32 off. Then --tf32: recorded, and within 1e-2.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readTensorMap } from '../../src/io/tensor-file.ts';
import { EXTENSION_NAMES, SAVEFIELDS } from '../../src/vocabulary.ts';
import { assert, assertClose, type CheckEnv, type DeviceCheck } from './harness.ts';
import { deviceStatus } from './status.ts';

interface Fixture {
  name: string;
  dir: string;
  N: number;
  loss: number;
  extensions: Record<string, string>;
}

function fixtures(root: string): Fixture[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => existsSync(path.join(root, d, 'meta.json')))
    .sort()
    .map((name) => {
      const meta = JSON.parse(readFileSync(path.join(root, name, 'meta.json'), 'utf8'));
      return { name, dir: path.join(root, name), N: meta.N, loss: meta.loss, extensions: meta.extensions };
    });
}

async function runFixture(env: CheckEnv, f: Fixture, extra: string[], rtol: number): Promise<Record<string, unknown>> {
  const supported = new Set<string>(EXTENSION_NAMES);
  const quantities = Object.keys(f.extensions).filter((q) => supported.has(q));
  const out = mkdtempSync(path.join(tmpdir(), 'bp-device-fixture-'));
  try {
    const file = (name: string) => path.join(f.dir, name);
    const args = ['run', '--model', file('model.json'), '--weights', file('weights.safetensors'), '--inputs', file('inputs.npy'),
      '--targets', file('targets.npy'), '--extensions', quantities.join(','), '--out', out, '--backend', 'cuda', '--quiet', ...extra];
    const { code, stderr } = await env.runCli(args);
    assert(code === 0, `${f.name} ${extra.join(' ')}: exit ${code}: ${stderr.slice(-1500)}`);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert(summary.backend === 'cuda', `${f.name}: summary.backend is ${summary.backend}`);
    assert(summary.N === f.N, `${f.name}: N ${summary.N}, expected ${f.N}`);
    assert(Math.abs(summary.loss - f.loss) / Math.abs(f.loss) < Math.max(1e-5, rtol / 10), `${f.name}: loss ${summary.loss}, expected ${f.loss}`);
    const expected = await readTensorMap(file('expected.safetensors'));
    const actual = await readTensorMap(path.join(out, 'results.safetensors'));
    const fields = new Set(['grad', ...quantities.map((q) => SAVEFIELDS[q as keyof typeof SAVEFIELDS])]);
    let compared = 0;
    for (const [key, exp] of expected) {
      if (!fields.has(key.split('.')[2])) continue;
      const got = actual.get(key);
      assert(got, `${f.name}: missing result ${key}`);
      assert(JSON.stringify(got.shape) === JSON.stringify(exp.shape), `${f.name} ${key}: shape [${got.shape}], expected [${exp.shape}]`);
      assertClose(got.data as Float32Array, exp.data as Float64Array, `${f.name} ${key} ${extra.join(' ')}`, rtol);
      compared++;
    }
    assert(compared === [...expected.keys()].filter((k) => fields.has(k.split('.')[2])).length, `${f.name}: compared ${compared} tensors`);
    return summary;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export function fixtureChecks(): DeviceCheck[] {
  const devices = () => Array.from({ length: Math.max(1, deviceStatus().gpus) }, (_, i) => i).join(',');
  const checks: DeviceCheck[] = [];
  for (const [mode, extra] of [['in-process', ['--workers', '0']], ['sharded over the GPUs (--devices)', ['--devices', '<gpus>']]] as const) {
    for (const shard of [undefined, 3]) {
      checks.push({
        group: 'fixtures',
        name: `BackPACK fixtures on cuda, ${mode}, shard size ${shard ?? 'N'}`,
        async run(env) {
          const all = fixtures(env.fixtureRoot);
          assert(all.length >= 3, `found ${all.length} fixtures in ${env.fixtureRoot} (set BACKPACK_FIXTURES)`);
          for (const f of all) {
            const args = extra.map((a) => (a === '<gpus>' ? devices() : a)).concat(shard ? ['--shard-size', String(shard)] : []);
            const summary = await runFixture(env, f, args, 1e-4);
            assert(summary.tf32 === false, `${f.name}: summary.tf32 is ${summary.tf32} without --tf32`);
            assert(/FP32/.test(String(summary.backendLibrary)), `${f.name}: backendLibrary '${summary.backendLibrary}' should say FP32`);
          }
        },
      });
    }
  }
  checks.push({
    group: 'fixtures',
    name: '--tf32: recorded in summary.json, results within 1e-2',
    async run(env) {
      for (const f of fixtures(env.fixtureRoot)) {
        const summary = await runFixture(env, f, ['--workers', '0', '--tf32'], 1e-2);
        assert(summary.tf32 === true, `${f.name}: summary.tf32 is ${summary.tf32} with --tf32`);
        assert(/TF32/.test(String(summary.backendLibrary)), `${f.name}: backendLibrary '${summary.backendLibrary}' should say TF32`);
      }
    },
  });
  return checks;
}
