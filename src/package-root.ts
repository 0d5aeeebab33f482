/**
 * The package's root directory (where package.json, examples/ and native/ are), from the sources
 * (`<root>/src/package-root.ts`) and from the compiled package (`<root>/dist/src/package-root.js`)
 * alike: files that are not compiled are found from here, never from a module's own depth.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const compiled = path.basename(path.dirname(here)) === 'dist';

export const PACKAGE_ROOT = path.resolve(here, compiled ? '../..' : '..');
