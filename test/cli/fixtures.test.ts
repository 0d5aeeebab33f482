/**
 * BackPACK's own float64 results (test/fixtures/backpack) reproduced through the CLI contract:
 * every quantity BackPACK computed (first and second order), every parameter, rtol 1e-4 relative to the
 * largest magnitude of the expected tensor.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTensorMap } from '../../src/io/tensor-file.ts';
import { EXTENSION_NAMES, SAVEFIELDS } from '../../src/vocabulary.ts';
import { runCli } from '../helpers/cli.ts';
import { expectClose } from '../helpers/expect-close.ts';
import { fixtureCases } from '../helpers/fixtures.ts';
import { ALL_BACKENDS } from '../helpers/backends.ts';

const cases = fixtureCases();
const supported = new Set<string>(EXTENSION_NAMES);

describe.each(ALL_BACKENDS)('BackPACK fixtures through `backpack-ts run` on %s', (backend) => {
  it('finds the fixtures', () => expect(cases.length).toBeGreaterThanOrEqual(3));

  describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, fixture) => {
    const quantities = Object.keys(fixture.extensions).filter((q) => supported.has(q));

    it.each([undefined, 3])('matches with shard size %s', async (shardSize) => {
      const out = mkdtempSync(path.join(tmpdir(), 'bp-fixture-'));
      const f = (file: string) => path.join(fixture.dir, file);
      const args = ['run', '--model', f('model.json'), '--weights', f('weights.safetensors'), '--inputs', f('inputs.npy'),
        '--targets', f('targets.npy'), '--extensions', quantities.join(','), '--out', out, '--backend', backend, '--quiet'];
      if (shardSize) args.push('--shard-size', String(shardSize));
      const { code, stderr } = await runCli(args);
      expect(code, stderr).toBe(0);

      const expected = await readTensorMap(f('expected.safetensors'));
      const actual = await readTensorMap(path.join(out, 'results.safetensors'));
      const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
      expect(summary.N).toBe(fixture.N);
      expect(Math.abs(summary.loss - fixture.loss) / Math.abs(fixture.loss)).toBeLessThan(1e-5);

      const fields = new Set(['grad', ...quantities.map((q) => SAVEFIELDS[q as keyof typeof SAVEFIELDS])]);
      let compared = 0;
      for (const [key, exp] of expected) {
        // "0.weight.kflr.1" → savefield "kflr"
        const field = key.split('.')[2];
        if (!fields.has(field)) continue;
        const got = actual.get(key);
        expect(got, `missing result ${key}`).toBeDefined();
        expect(got!.shape, key).toEqual(exp.shape);
        expect(got!.dtype).toBe('float32');
        expectClose(got!.data as Float32Array, exp.data as Float64Array, { rtol: 1e-4, label: `${fixture.name} ${key}` });
        compared++;
      }
      // Every tensor BackPACK computed for the quantities we ran was compared.
      expect(compared).toBe([...expected.keys()].filter((k) => fields.has(k.split('.')[2])).length);
      expect(quantities.length).toBe(Object.keys(fixture.extensions).length);
    });
  });
});
