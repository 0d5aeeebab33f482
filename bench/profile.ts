/**
 * Where one runBatch spends its time: per layer and module function (forward, jacTMatProd,
 * paramJacT.weight/bias, the quantity's rule), and per tfjs kernel (bench/kernel-timer.ts: the
 * engine's runKernelFunc timed per kernel name, exclusive of nested kernels; works on native, wasm
 * and cpu — tf.profile would read and keep every kernel output, which on native means fresh pages).
 *
 *   node --import tsx bench/profile.ts --problem 2c2d_fmnist --quantity grad [--n 128] [--backend auto|native|wasm|cpu]
 *        [--threads 1] [--top 25] [--shard-size S]
 *
 * GGNMP/HMP get V = 1 standard-normal vector per parameter (as in bench/run.ts).
 *
 * Module timers are inclusive and nest: a rule's time includes the paramJacT it calls (shown as
 * "via rule"). Kernels of these backends run synchronously, so wall time around each call is the
 * kernel's time. Warm-ups for ≥ 2 s (V8 optimises the engine's JS only after some hundreds of runs
 * of a fast cell), results released after every run and an event-loop turn before each (the native
 * backend recycles the memory of zero-copy result views only after one). Monkey-patches the module tables in memory
 * only; src/ is not changed.
 */
import { DERIVATIVES } from '../src/core/derivatives/index.ts';
import { QUANTITIES } from '../src/extensions/index.ts';
import { resolveBackend, useBackend } from '../src/backends/select.ts';
import { releaseResults, runBatch } from '../src/api/run.ts';
import { tf } from '../src/core/tf.ts';
import type { Layer } from '../src/core/derivatives/types.ts';
import { kernelTimer, topKernels } from './kernel-timer.ts';
import { loadProblem, makeVectors } from './problem.ts';

const argv = process.argv.slice(2);
const arg = (flag: string, def: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : def;
};
const problem = arg('--problem', '2c2d_fmnist');
const quantity = arg('--quantity', 'grad');
const N = Number(arg('--n', '128'));
const choice = arg('--backend', 'auto');
const threads = Number(arg('--threads', '1'));
const top = Number(arg('--top', '25'));
const shardSize = argv.includes('--shard-size') ? Number(arg('--shard-size', '0')) : undefined;

const timers = new Map<string, { ms: number; calls: number }>();
let depth = 0;
let enabled = false;
function timed<A extends unknown[], R>(label: (args: A) => string, fn: (...args: A) => R): (...args: A) => R {
  return function (this: unknown, ...args: A) {
    if (!enabled) return fn.apply(this, args);
    const key = (depth > 0 ? '  via rule: ' : '') + label(args);
    depth += key.startsWith('rule') ? 1 : 0;
    const t0 = performance.now();
    try {
      return fn.apply(this, args);
    } finally {
      const t = timers.get(key) ?? { ms: 0, calls: 0 };
      t.ms += performance.now() - t0;
      t.calls++;
      timers.set(key, t);
      depth -= key.startsWith('rule') ? 1 : 0;
    }
  };
}

const tag = (layer: Layer) => `${layer.index}:${layer.kind}`;
for (const math of new Set(Object.values(DERIVATIVES)) as Set<any>) {
  const f = math.forward;
  math.forward = timed((a: any[]) => `${tag(a[0])}.forward`, f);
  const j = math.jacTMatProd;
  math.jacTMatProd = timed((a: any[]) => `${tag(a[0])}.jacTMatProd`, j);
  for (const p of Object.keys(math.paramJacT ?? {})) {
    const pj = math.paramJacT[p];
    math.paramJacT[p] = timed((a: any[]) => `${tag(a[0])}.paramJacT.${p}${a[3] ? ' (sum)' : ' (per-sample)'}`, pj);
  }
}
for (const [q, record] of Object.entries(QUANTITIES) as [string, any][]) {
  record.rule = timed((a: any[]) => `rule ${q} ${tag(a[0].layer)}.${a[0].param}`, record.rule);
}

// Time the host-side reads (dataSync) too: they are part of the shard's partials.
const proto = (tf.Tensor as any).prototype;
const dataSync = proto.dataSync;
proto.dataSync = timed((_a: unknown[]) => 'dataSync (partials → host)', dataSync);

const resolved = await resolveBackend(choice);
const backend = resolved.backend === 'cuda' ? 'native' : resolved.backend;
await useBackend(backend, { threads });
const p = loadProblem(problem, N, 0);
const extensions = quantity === 'grad' ? [] : [quantity as never];
const opts = { extensions, shardSize, vectors: quantity === 'GGNMP' || quantity === 'HMP' ? makeVectors(p.net) : undefined };
const turn = () => new Promise((r) => setImmediate(r));
// Warm-ups (index maps, allocator caches, oneDNN's primitives, V8's optimised code: some hundreds
// of runs of a fast cell), each run's results released as a loop over batches does.
for (let i = 0, spent = 0; i < 2 || (spent < 2000 && i < 1000); i++) {
  const t = performance.now();
  releaseResults(runBatch(p.net, p.inputs, p.targets, opts));
  spent += performance.now() - t;
  await turn();
}

enabled = true;
const t0 = performance.now();
const r = runBatch(p.net, p.inputs, p.targets, opts);
const total = performance.now() - t0;
enabled = false;
releaseResults(r);

const lib = backend === 'native' ? ` (${resolved.library || 'native'}, ${threads} thread${threads > 1 ? 's' : ''})` : '';
console.log(`${problem} N=${N} ${quantity} on ${backend}${lib}: runBatch ${total.toFixed(0)} ms (compute ${r.timings.computeMs.toFixed(0)}, reduce ${r.timings.reduceMs.toFixed(0)})\n`);
console.log('module functions (inclusive ms, calls):');
const rows = [...timers.entries()].sort((a, b) => b[1].ms - a[1].ms);
for (const [k, v] of rows) if (v.ms >= 0.5) console.log(`  ${v.ms.toFixed(1).padStart(9)}  ${String(v.calls).padStart(3)}  ${k}`);

// Kernels: a third run with the engine's runKernelFunc timed per kernel (module timers off).
await turn();
const timer = kernelTimer();
timer.start();
const k0 = performance.now();
const kr = runBatch(p.net, p.inputs, p.targets, opts);
const kernelRunMs = performance.now() - k0;
timer.stop();
releaseResults(kr);
const kernelTotal = timer.totalMs();
const byName = timer.byName();
const calls = [...byName.values()].reduce((s, e) => s + e.calls, 0);
console.log(`\nkernels by op (exclusive ms, calls; ${kernelTotal.toFixed(0)} ms in ${calls} kernel calls of a ${kernelRunMs.toFixed(0)} ms run; outside kernels: ${(kernelRunMs - kernelTotal).toFixed(0)} ms):`);
for (const [k, v] of topKernels(byName, 15)) console.log(`  ${v.ms.toFixed(1).padStart(9)}  ${String(v.calls).padStart(4)}  ${k}  (${((100 * v.ms) / kernelRunMs).toFixed(0)} %)`);
console.log(`\ntop ${top} kernels by op and input shapes:`);
for (const [k, v] of topKernels(timer.byShape(), top)) console.log(`  ${v.ms.toFixed(1).padStart(9)}  ${String(v.calls).padStart(4)}  ${k}`);
