#!/usr/bin/env node
// Builds the native addon (native/ → native/build/backpack_native.node): the cpu device with g++
// (any C++17 compiler), plus the cuda device where nvcc is found (cudart linked statically, so the
// addon loads on machines without CUDA). Run by `npm ci` (install script) and `npm run build:native`.
//
//   node scripts/build-native.mjs [--on-install] [--force]
//
// --on-install never fails the install: where no compiler or no Node headers exist it prints one
// line saying so and exits 0 (the wasm backend needs neither). Objects are rebuilt only when a
// source or header is newer. BACKPACK_NATIVE_ARCH sets -march (default: native, i.e. this CPU;
// use e.g. x86-64-v3 to build for other machines), BACKPACK_NO_CUDA=1 skips the cuda device.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'native', 'src');
const build = path.join(root, 'native', 'build');
const out = path.join(build, 'backpack_native.node');
const onInstall = process.argv.includes('--on-install');
const force = process.argv.includes('--force');

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

function skip(why) {
  console.log(`build:native skipped: ${why}; the wasm backend is used instead`);
  process.exit(0);
}

function files(dir, ext) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name), ext) : e.name.endsWith(ext) ? [path.join(dir, e.name)] : [],
  );
}

const cxx = process.env.CXX || which('c++') || which('g++') || which('clang++');
if (!cxx) skip('no C++ compiler found (apt-get install g++)');
const nodeInclude = [
  process.env.NODE_INCLUDE_DIR,
  path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].find((d) => d && existsSync(path.join(d, 'node_api.h')));
if (!nodeInclude) skip("Node's headers (node_api.h) not found; set NODE_INCLUDE_DIR");
const nvcc = process.env.BACKPACK_NO_CUDA ? null : which('nvcc') || (existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null);
const arch = process.env.BACKPACK_NATIVE_ARCH || 'native';

const headers = files(src, '.h').concat(files(src, '.cuh'));
const newestHeader = Math.max(0, ...headers.map((h) => statSync(h).mtimeMs));
const stale = (source, object) => force || !existsSync(object) || statSync(object).mtimeMs < Math.max(statSync(source).mtimeMs, newestHeader);
const objectOf = (source) => path.join(build, 'obj', path.relative(src, source).replace(/[\\/]/g, '_') + '.o');

const cxxFlags = ['-std=c++17', '-O3', `-march=${arch}`, '-fPIC', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-Wall', '-Wno-unused-function', '-I', nodeInclude];
// The cuda device replaces its stub once it exists (and nvcc does).
const cudaDevice = nvcc && existsSync(path.join(src, 'cuda', 'cuda_device.cu'));
const ccSources = files(src, '.cc').filter((f) => !(cudaDevice && f.endsWith('cuda_stub.cc')) && (nvcc || !f.endsWith('cuda_probe.cc')));
const cuSources = nvcc ? files(src, '.cu') : [];
if (nvcc) cxxFlags.push('-DBP_WITH_CUDA');

const jobs = [
  ...ccSources.map((s) => ({ source: s, cmd: cxx, args: [...cxxFlags, '-c', s, '-o', objectOf(s)] })),
  ...cuSources.map((s) => ({
    source: s,
    cmd: nvcc,
    args: ['-std=c++17', '-O3', '-Xcompiler', '-fPIC', '-Xcompiler', '-fvisibility=hidden', '-DBP_WITH_CUDA',
      // Ampere and Hopper machine code, plus compute_90 PTX for newer GPUs.
      '-gencode', 'arch=compute_80,code=sm_80', '-gencode', 'arch=compute_90,code=sm_90', '-gencode', 'arch=compute_90,code=compute_90',
      '-I', nodeInclude, '-c', s, '-o', objectOf(s)],
  })),
];

const t0 = Date.now();
mkdirSync(path.join(build, 'obj'), { recursive: true });
try {
  const todo = jobs.filter((j) => stale(j.source, objectOf(j.source)));
  const width = Math.max(1, Math.min(os.availableParallelism(), 4));
  for (let i = 0; i < todo.length; i += width) {
    await Promise.all(todo.slice(i, i + width).map((j) => run(j.cmd, j.args, { maxBuffer: 64 << 20 })));
  }
  const objects = jobs.map((j) => objectOf(j.source));
  const libs = ['-ldl', '-lpthread'];
  if (nvcc) {
    const home = path.dirname(path.dirname(realpathSync(nvcc)));
    const cudaLib = [path.join(home, 'lib64'), path.join(home, 'lib'), '/usr/local/cuda/lib64', '/usr/local/cuda/lib'].find((d) => existsSync(path.join(d, 'libcudart_static.a')));
    if (!cudaLib) throw new Error('libcudart_static.a not found next to nvcc');
    libs.unshift('-L', cudaLib, '-lcudart_static', '-lrt');
  }
  await run(cxx, ['-shared', '-o', out, ...objects, ...libs], { maxBuffer: 64 << 20 });
} catch (e) {
  const detail = String(e.stderr || e.message).split('\n').filter(Boolean).slice(0, 12).join('\n');
  if (onInstall) {
    console.log(`build:native failed (the wasm backend is used instead; \`npm run build:native\` shows why):\n${detail.split('\n')[0]}`);
    process.exit(0);
  }
  console.error(`build:native failed:\n${detail}`);
  process.exit(1);
}
console.log(`build:native: ${path.relative(root, out)} (cpu${cudaDevice ? ' + cuda' : nvcc ? ' + cuda probe' : ''}, -march=${arch}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
