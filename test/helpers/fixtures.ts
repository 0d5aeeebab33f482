/**
 * BackPACK's float64 reference cases, carried by the project in test/fixtures/backpack (see its
 * README; scripts/make-backpack-fixtures.py makes them with BackPACK).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/backpack');

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
