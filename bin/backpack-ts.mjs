#!/usr/bin/env node
// Entry of the `backpack-ts` command: the compiled JavaScript in dist/ (built by `npm run build`,
// which `npm ci` runs as its `prepare` step), so start-up transpiles nothing. The sources run
// through src/cli/source-entry.mjs instead (the tests and development do).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/entry.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('backpack-ts: not built: this package has no dist/ (its compiled JavaScript): run `npm run build` (npm ci does it), or run the sources with `node src/cli/source-entry.mjs`\n');
  process.exitCode = 5;
} else {
  await import(entry.href);
}
