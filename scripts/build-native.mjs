#!/usr/bin/env node
// Builds the native addon (native/ → native/build/backpack_native.node): the cpu device with g++
// (any C++17 compiler), plus the cuda device where nvcc is found (cudart linked statically, so the
// addon loads on machines without CUDA). Run by `npm ci` (install script) and `npm run build:native`.
//
//   node scripts/build-native.mjs [--on-install] [--force] [--cuda-emulation]
//
// --cuda-emulation builds native/build/emu/backpack_native_emu.node instead: the same addon with
// the cuda device compiled by g++ against a host emulation of the CUDA runtime and cuBLAS
// (native/src/cuda/emulation/), so the device's logic is tested on machines without a GPU.
//
// --on-install never fails the install: where no compiler or no Node headers exist it prints one
// line saying so and exits 0 (the wasm backend needs neither). Objects are rebuilt only when a
// source or header is newer. BACKPACK_NATIVE_ARCH sets -march (default: native, i.e. this CPU;
// use e.g. x86-64-v3 to build for other machines), BACKPACK_NO_CUDA=1 skips the cuda device,
// BACKPACK_CUDA_ARCH the GPU targets (default 80,90: Ampere and Hopper machine code, plus PTX of
// the last for newer GPUs; e.g. 90 alone builds a third as long).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'native', 'src');
// BACKPACK_NATIVE_BUILD_DIR builds elsewhere (scripts/device-check.sh builds the GPU machine's copy
// there without touching this machine's build).
const build = process.env.BACKPACK_NATIVE_BUILD_DIR ? path.resolve(process.env.BACKPACK_NATIVE_BUILD_DIR) : path.join(root, 'native', 'build');
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
// Objects built with other flags (another -march or GPU target list) are stale too.
const stampFile = path.join(build, 'flags.json');
const stamps = (() => {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return {};
  }
})();
const stale = (source, object, args) =>
  force || !existsSync(object) || stamps[object] !== args.join(' ') || statSync(object).mtimeMs < Math.max(statSync(source).mtimeMs, newestHeader);
const objectOf = (source, dir = 'obj') => path.join(build, dir, path.relative(src, source).replace(/[\\/]/g, '_') + '.o');

// oneDNN 2.x's headers (Debian: libdnnl-dev) let the cpu device run plain convolutions with
// oneDNN, loaded at run time (native/src/cpu/onednn_conv.h); without them conv.cc runs them all.
const dnnlInclude = ['/usr/include', '/usr/local/include'].find((d) => {
  const version = path.join(d, 'oneapi', 'dnnl', 'dnnl_version.h');
  return existsSync(version) && /#define DNNL_VERSION_MAJOR 2\b/.test(readFileSync(version, 'utf8'));
});
const cxxFlags = ['-std=c++17', '-O3', `-march=${arch}`, '-fPIC', '-fvisibility=hidden', '-DNAPI_VERSION=8', '-Wall', '-Wno-unused-function', '-I', nodeInclude,
  ...(dnnlInclude ? ['-DBP_WITH_DNNL'] : [])];
// The cuda device replaces its stub once it exists (and nvcc does). Its host-only files (cuBLAS
// loader, N-API hooks) are plain C++ built by the C++ compiler; the .cu files go to nvcc. The
// host emulation of the device (cuda/emulation/) is built only by --cuda-emulation.
const cudaDevice = nvcc && existsSync(path.join(src, 'cuda', 'cuda_device.cu'));
const emulationDir = path.join(src, 'cuda', 'emulation');
const inEmulation = (f) => f.startsWith(emulationDir + path.sep);
const isCudaHost = (f) => path.basename(path.dirname(f)) === 'cuda' || path.basename(f).startsWith('cuda_');
const ccSources = files(src, '.cc').filter((f) =>
  inEmulation(f) ? false : f.endsWith('cuda_stub.cc') ? !cudaDevice : f.endsWith('cuda_probe.cc') ? Boolean(nvcc) : isCudaHost(f) ? cudaDevice : true);
const cuSources = nvcc ? files(src, '.cu').filter((f) => cudaDevice || f.endsWith('probe.cu')) : [];
const cudaArchs = (process.env.BACKPACK_CUDA_ARCH || '80,90').split(',').map((a) => a.trim().replace(/^sm_/, '')).filter(Boolean);
if (cudaArchs.some((a) => !/^\d+a?$/.test(a))) {
  console.error(`build:native: BACKPACK_CUDA_ARCH must list compute capabilities like 80,90; got '${process.env.BACKPACK_CUDA_ARCH}'`);
  process.exit(1);
}
// Machine code for each target, plus the last one's PTX (the driver compiles it for newer GPUs).
const gencode = [...cudaArchs.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]), '-gencode', `arch=compute_${cudaArchs.at(-1)},code=compute_${cudaArchs.at(-1)}`];

/** The jobs and link line of the addon (or, with `emulation`, of the cuda device's host emulation). */
function plan(emulation) {
  if (emulation) {
    // Everything with g++: the .cu files as C++ against emulation/cuda_runtime.h, cuBLAS as a reference GEMM.
    // -O1: the emulation is for logic, not speed, and builds in a fraction of the time.
    const flags = [...cxxFlags.map((f) => (f === '-O3' ? '-O1' : f)), '-DBP_WITH_CUDA', '-DBP_WITH_CUDA_DEVICE', '-DBP_CUDA_EMULATION', '-I', emulationDir];
    const sources = [
      ...files(src, '.cc').filter((f) => !f.endsWith('cuda_stub.cc') && !f.endsWith(path.join('cuda', 'cublas.cc'))),
      ...files(src, '.cu'),
    ];
    return {
      out: path.join(build, 'emu', 'backpack_native_emu.node'),
      dir: 'emu/obj',
      jobs: sources.map((s) => ({ source: s, cmd: cxx, args: [...flags, ...(s.endsWith('.cu') ? ['-x', 'c++'] : []), '-c', s, '-o', objectOf(s, 'emu/obj')] })),
      libs: ['-ldl', '-lpthread'],
      what: 'cpu + emulated cuda',
    };
  }
  const flags = [...cxxFlags, ...(nvcc ? ['-DBP_WITH_CUDA'] : []), ...(cudaDevice ? ['-DBP_WITH_CUDA_DEVICE'] : [])];
  const libs = ['-ldl', '-lpthread'];
  if (nvcc) {
    const home = path.dirname(path.dirname(realpathSync(nvcc)));
    const cudaLib = [path.join(home, 'lib64'), path.join(home, 'lib'), '/usr/local/cuda/lib64', '/usr/local/cuda/lib'].find((d) => existsSync(path.join(d, 'libcudart_static.a')));
    if (!cudaLib) throw new Error('libcudart_static.a not found next to nvcc');
    libs.unshift('-L', cudaLib, '-lcudart_static', '-lrt');
  }
  return {
    out,
    dir: 'obj',
    jobs: [
      ...ccSources.map((s) => ({ source: s, cmd: cxx, args: [...flags, '-c', s, '-o', objectOf(s)] })),
      ...cuSources.map((s) => ({
        source: s,
        cmd: nvcc,
        // No fast math: kernels must give the cpu device's results (IEEE division, square root, denormals).
        args: ['-std=c++17', '-O3', '-Xcompiler', '-fPIC', '-Xcompiler', '-fvisibility=hidden', '-DBP_WITH_CUDA', ...gencode,
          '-I', nodeInclude, '-c', s, '-o', objectOf(s)],
      })),
    ],
    libs,
    what: `cpu${dnnlInclude ? ' (oneDNN convolutions)' : ''}${cudaDevice ? ` + cuda (sm_${cudaArchs.join(', sm_')})` : nvcc ? ' + cuda probe' : ''}`,
  };
}

const t0 = Date.now();
let built;
try {
  built = plan(process.argv.includes('--cuda-emulation'));
  mkdirSync(path.join(build, built.dir), { recursive: true });
  const todo = built.jobs.filter((j) => stale(j.source, j.args.at(-1), j.args));
  const width = Math.max(1, Math.min(os.availableParallelism(), 4));
  for (let i = 0; i < todo.length; i += width) {
    await Promise.all(todo.slice(i, i + width).map(async (j) => {
      await run(j.cmd, j.args, { maxBuffer: 64 << 20 });
      stamps[j.args.at(-1)] = j.args.join(' ');
      writeFileSync(stampFile, JSON.stringify(stamps, null, 1));
    }));
  }
  await run(cxx, ['-shared', '-o', built.out, ...built.jobs.map((j) => j.args.at(-1)), ...built.libs], { maxBuffer: 64 << 20 });
} catch (e) {
  const detail = String(e.stderr || e.message).split('\n').filter(Boolean).slice(0, 12).join('\n');
  if (onInstall) {
    console.log(`build:native failed (the wasm backend is used instead; \`npm run build:native\` shows why):\n${detail.split('\n')[0]}`);
    process.exit(0);
  }
  console.error(`build:native failed:\n${detail}`);
  process.exit(1);
}
console.log(`build:native: ${path.relative(root, built.out)} (${built.what}, -march=${arch}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
