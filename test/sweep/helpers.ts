/** Sweeps on the generated example (scripts/make-sweep-example.ts) in temporary directories. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeSweepExample } from '../../scripts/make-sweep-example.ts';

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
