/** Sweeps on the generated example (scripts/make-sweep-example.ts) or on the BatchNorm CNN, in temporary directories. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeSweepExample } from '../../scripts/make-sweep-example.ts';
import { writeNpyFile, writeSafetensorsFile } from '../../src/io/tensor-file.ts';
import { parseModelSpec } from '../../src/nn/parse-spec.ts';
import { mulberry32, randomWeights } from '../helpers/oracle.ts';
import { MODEL_SPECS } from '../helpers/pool-fixtures.ts';

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The example's data (N samples) and checkpoints in `dir`, and a sweep.json there whose fields
 * are the example's with `override` merged in (options merged key by key). Returns its path.
 */
export async function exampleSweep(dir: string, override: Record<string, unknown> = {}, N = 80): Promise<string> {
  const file = await makeSweepExample(dir, { N, steps: 40 });
  const base = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const options = { ...(base.options as object), ...((override.options as object) ?? {}) };
  writeFileSync(file, JSON.stringify({ ...base, ...override, options }, null, 2));
  return file;
}

/** Every file under `dir` (relative paths) with its bytes, for byte-for-byte comparisons. */
export function filesUnder(dir: string, keep: (rel: string) => boolean = () => true): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (keep(path.relative(dir, p))) out.set(path.relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** rows.jsonl sorted by unit (then batch), as text lines. */
export function sortedRows(out: string): string[] {
  const lines = readFileSync(path.join(out, 'rows.jsonl'), 'utf8').split('\n').filter(Boolean);
  const key = (l: string) => {
    const r = JSON.parse(l) as { unit: string; batch: number | 'all' };
    return `${r.unit}\u0000${r.batch === 'all' ? 'z' : String(r.batch).padStart(8, '0')}`;
  };
  return lines.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * A sweep over the BatchNorm CNN (test/helpers/pool-fixtures.ts: bncnn, where KFAC is refused for
 * the BatchNorm layer): one checkpoint, N samples of data/inputs.npy + data/targets.npy, and a
 * sweep.json with `fields` merged in. Returns its path.
 */
export async function batchNormSweep(dir: string, fields: Record<string, unknown>, N = 12, seed = 31): Promise<string> {
  const rng = mulberry32(seed);
  const spec = parseModelSpec(MODEL_SPECS.bncnn);
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(MODEL_SPECS.bncnn));
  await writeSafetensorsFile(path.join(dir, 'ckpt.safetensors'), randomWeights(spec, rng));
  await writeNpyFile(path.join(dir, 'data', 'inputs.npy'), { dtype: 'float32', shape: [N, 2, 4], data: Float32Array.from({ length: N * 8 }, () => rng() - 0.5) });
  await writeNpyFile(path.join(dir, 'data', 'targets.npy'), { dtype: 'int64', shape: [N], data: BigInt64Array.from({ length: N }, (_, n) => BigInt(n % 3)) });
  const file = path.join(dir, 'sweep.json');
  writeFileSync(file, JSON.stringify({ model: 'model.json', checkpoints: ['ckpt.safetensors'], datasets: [{ path: 'data/inputs.npy', targets: 'data/targets.npy' }], batchSizes: [4], ...fields }, null, 2));
  return file;
}
