/**
 * tfjs-core, loaded with `require`. NOTE: tfjs-core is CommonJS, and Node's ESM `import` of a
 * CommonJS file first scans its source for export names (cjs-module-lexer): ~0.1 s of CPU for
 * tfjs-core's 1.2 MB at every start of the CLI and of every worker thread. `require` skips the
 * scan and yields the same module instance. Only src/core/tf.ts imports this file (the device
 * bundle, scripts/device-bundle.mjs, swaps it for a static import that esbuild can bundle).
 */
import { createRequire } from 'node:module';
import type * as Core from '@tensorflow/tfjs-core';

export const core = createRequire(import.meta.url)('@tensorflow/tfjs-core') as typeof Core;
