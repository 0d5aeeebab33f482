#!/usr/bin/env node
// Bundles what the GPU machine runs (it has no Node packages and no network) into .devcarry/app/:
//   device-checks.cjs  test/device/run.ts: the device checks without vitest
//   bench.cjs          test/device/bench.ts: the cuda benchmark
//   cli.cjs            the backpack-ts CLI (the fixture checks run it as a child process)
//   process-worker.cjs + worker/process-entry.mjs  the worker process --devices forks
//   *.wasm             tfjs-backend-wasm's binaries, found beside the bundle
// Used by scripts/device-check.sh. esbuild comes with tsx (a dependency).
//
// `import.meta.url` is empty in a CommonJS bundle; each source file's is replaced by the URL of
// that file in the repository on the machine that runs the bundle (BACKPACK_ROOT, default two
// folders above the bundle), so paths built from it (the addon, bench problems, examples) resolve
// there. The two worker pools are pointed at .devcarry/app/worker/ instead, where the bundled
// worker entries are.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const app = path.join(root, '.devcarry', 'app');
mkdirSync(path.join(app, 'worker'), { recursive: true });

/** Where a source file's import.meta.url points on the target machine, relative to the repository. */
function urlPath(file) {
  const rel = path.relative(root, file).split(path.sep).join('/');
  if (rel === 'src/coordinator/process-pool.ts' || rel === 'src/coordinator/thread-pool.ts') return `.devcarry/app/coordinator/${path.basename(rel)}`;
  return rel;
}

const importMetaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.(ts|mts|mjs)$/ }, (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const contents = text.replaceAll('import.meta.url', `__bpUrl(${JSON.stringify(urlPath(args.path))})`);
      return { contents, loader: args.path.endsWith('.ts') || args.path.endsWith('.mts') ? 'ts' : 'js' };
    });
  },
};

// src/core/tfjs-core.ts loads tfjs-core with createRequire (see there), which esbuild cannot follow:
// in the bundle it becomes a static import, bundled like every other package.
const tfjsCoreStatic = {
  name: 'tfjs-core-static',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]core[\\/]tfjs-core\.ts$/ }, () => ({
      contents: "import * as core from '@tensorflow/tfjs-core';\nexport { core };\n",
      loader: 'ts',
      resolveDir: path.join(root, 'src', 'core'),
    }));
  },
};

const banner = [
  '"use strict";',
  'const __bpRoot = process.env.BACKPACK_ROOT || require("node:path").resolve(__dirname, "../..");',
  'function __bpUrl(rel) { return require("node:url").pathToFileURL(require("node:path").join(__bpRoot, rel)).href; }',
].join('\n');

const cliEntry = path.join(app, 'cli-entry.ts');
writeFileSync(cliEntry, "import { main } from '../../src/cli/main.ts';\nmain(process.argv).then((code) => { process.exitCode = code; });\n");

const entries = {
  'device-checks': 'test/device/run.ts',
  bench: 'test/device/bench.ts',
  cli: path.relative(root, cliEntry),
  'process-worker': 'src/worker/process-worker.ts',
};
await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, path.join(root, v)])),
  outdir: app,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  banner: { js: banner },
  // Optional at run time and absent here: tfjs-node (the 'tensorflow' backend), the piscina worker's own file.
  external: ['@tensorflow/tfjs-node'],
  plugins: [tfjsCoreStatic, importMetaUrl],
  logLevel: 'warning',
  legalComments: 'none',
  minifyWhitespace: true,
});
writeFileSync(path.join(app, 'worker', 'process-entry.mjs'), "import '../process-worker.cjs';\n");
const wasmDir = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(path.join(wasmDir, f), path.join(app, f));
console.log(`device-bundle: ${Object.keys(entries).map((e) => `${e}.cjs`).join(', ')} in ${path.relative(root, app)}`);
