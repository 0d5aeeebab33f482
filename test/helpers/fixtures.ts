/** BackPACK's float64 reference cases in ../shared/fixtures/backpack (see its README). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The repository sits next to shared/; BACKPACK_FIXTURES points elsewhere (e.g. from a git worktree).
export const FIXTURE_ROOT = process.env.BACKPACK_FIXTURES ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/backpack');

export interface FixtureCase {
  name: string;
  dir: string;
  N: number;
  loss: number;
  /** Quantity name → savefield, for what BackPACK computed. */
  extensions: Record<string, string>;
  errors: Record<string, string>;
}

export function fixtureCases(): FixtureCase[] {
  if (!existsSync(FIXTURE_ROOT)) return [];
  return readdirSync(FIXTURE_ROOT)
    .filter((d) => existsSync(path.join(FIXTURE_ROOT, d, 'meta.json')))
    .sort()
    .map((name) => {
      const dir = path.join(FIXTURE_ROOT, name);
      const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8'));
      return { name, dir, N: meta.N, loss: meta.loss, extensions: meta.extensions, errors: meta.errors };
    });
}
