#!/usr/bin/env node
// `npm run build:native`: compiles the cuda backend's addon (native/) with nvcc when nvcc and
// Node's headers are found, else says why in one line and exits 0 — a plain `npm ci` never needs
// CUDA. cudart is linked statically, so the addon loads on machines without a driver.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'native', 'build', 'backpack_cuda.node');

function find(candidates) {
  return candidates.find((c) => c && existsSync(c));
}

function nvccPath() {
  try {
    return execFileSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return find(['/usr/local/cuda/bin/nvcc']) ?? null;
  }
}

const nvcc = nvccPath();
if (!nvcc) {
  console.log('build:native skipped: nvcc not found (install the CUDA toolkit to build the cuda backend)');
  process.exit(0);
}
const nodeInclude = find([
  process.env.NODE_INCLUDE_DIR,
  path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean).map((d) => (existsSync(path.join(d, 'node_api.h')) ? d : null)));
if (!nodeInclude) {
  console.log("build:native skipped: Node's headers (node_api.h) not found; set NODE_INCLUDE_DIR");
  process.exit(0);
}
const src = path.join(root, 'native', 'src');
const sources = readdirSync(src).filter((f) => f.endsWith('.cu') || f.endsWith('.cc')).map((f) => path.join(src, f));
mkdirSync(path.dirname(out), { recursive: true });
const args = [
  '-O2', '-std=c++17', '-shared', '-Xcompiler', '-fPIC', '-DNODE_GYP_MODULE_NAME=backpack_cuda',
  // Ampere and Hopper machine code, plus compute_90 PTX for newer GPUs.
  '-gencode', 'arch=compute_80,code=sm_80', '-gencode', 'arch=compute_90,code=sm_90', '-gencode', 'arch=compute_90,code=compute_90',
  '-I', nodeInclude, '-cudart', 'static', ...sources, '-o', out, '-ldl', '-lrt', '-lpthread',
];
const t0 = Date.now();
execFileSync(nvcc, args, { stdio: 'inherit' });
console.log(`build:native: ${path.relative(root, out)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
