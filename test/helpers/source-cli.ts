/**
 * The `backpack-ts` command for tests that need it as a child process: the TypeScript sources
 * through src/cli/source-entry.mjs (tsx), so a test never runs a stale dist/. The compiled package
 * itself is tested by test/package/pack.test.ts.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SOURCE_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/source-entry.mjs');
