/**
 * End-to-end overhead of queue mode over in-process mode, on the same job: a 3c3d_cifar10 batch of
 * N samples (default 8192) in shards of S (default 512), on W local worker threads (default 2).
 *
 *   node --import tsx bench/queue-overhead.ts [--n 8192] [--shard-size 512] [--workers 2]
 *        [--extensions Variance] [--problem 3c3d_cifar10] [--repeats 1] [--redis redis://127.0.0.1:6379]
 *        [--verbose]   (the worker's log on stderr)
 *
 * in-process: runJobOnPool on a thread pool of W (what `backpack-ts run --workers W --shard-size S`
 *   does after loading its files), tensors already in memory.
 * queue: a `backpack-ts worker --workers W` child process (started and warmed up before timing),
 *   then submit (read files, validate, upload into Redis) → shards → reduce → results fetched from
 *   Redis and written (`submit --wait --out` without the CLI's process start). Each queue shard runs
 *   on the W threads as W micro-shards of S/W.
 * Both modes first run a warm-up job of the timed shard shapes (pool start, wasm init, model
 * replicas, per-shape caches); its time is reported but not counted. Weights and
 * data: src/data/synthetic.ts (initWeights / normalInputs / uniformLabels), seeded. Keys go under a
 * random prefix that is deleted at the end. With --repeats R each mode runs R timed jobs (the
 * table shows medians and the range of wall times); the modes' runs are interleaved so that other
 * load on the machine hits all of them alike, and CPU time is reported next to wall time.
 * Prints markdown (see bench/QUEUE.md).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../src/backends/select.ts';
import { createPool } from '../src/coordinator/create-pool.ts';
import { runJobOnPool } from '../src/coordinator/run-job.ts';
import { initWeights, normalInputs, uniformLabels } from '../src/data/synthetic.ts';
import { sliceRows } from '../src/core/inputs.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { writeNpyFile, writeSafetensorsFile } from '../src/io/tensor-file.ts';
import { buildNetwork, disposeNetwork } from '../src/nn/network.ts';
import { parseModelSpecText } from '../src/nn/parse-spec.ts';
import { parseExtensionList } from '../src/extensions/index.ts';
import { QueueContext, deleteKeysWithPrefix } from '../queue/context.ts';
import { readJobFile } from '../queue/job-schema.ts';
import { fetchResult } from '../queue/result.ts';
import { waitForJob } from '../queue/status.ts';
import { submitJob } from '../queue/submit.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const N = Number(arg('n', '8192'));
const S = Number(arg('shard-size', '512'));
const W = Number(arg('workers', '2'));
const extensions = parseExtensionList(arg('extensions', 'Variance'));
const problem = arg('problem', '3c3d_cifar10');
const redisUrl = arg('redis', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const REPEATS = Number(arg('repeats', '1'));
const VERBOSE = process.argv.includes('--verbose');

const specFile = path.join(ROOT, 'bench/problems', `${problem}.json`);
const specText = readFileSync(specFile, 'utf8');
const spec = parseModelSpecText(specText, specFile);
const weights = initWeights(spec, 0);
await useBackend('wasm');
const probe = buildNetwork(spec, weights);
const classes = probe.outputShape[0];
disposeNetwork(probe);
const inputs = normalInputs(spec, N, 1);
const targets = uniformLabels(N, classes, 2);

const ms = (t0: number) => performance.now() - t0;
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

type Row = Record<string, number>;

/** A way to run the job: set up (and warm up) once, then timed runs interleaved with the other modes. */
interface Mode {
  label: string;
  warmupMs: number;
  run(): Promise<Row>;
  close(): Promise<void>;
}

/** CPU time (user + system) of this process, all its threads, in ms. */
const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU time of another process from /proc/<pid>/stat (utime + stime, in clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function inProcessMode(shardSize: number, label: string): Promise<Mode> {
  const t0 = performance.now();
  const pool = createPool('threads', W);
  // Warm-up: W shards of the timed shape (pool start, wasm init, replicas, per-shape caches).
  const warmN = Math.min(N, shardSize * W);
  const small = (t: HostTensor) => sliceRows(t, 0, warmN);
  await runJobOnPool(pool, { spec, weights, inputs: small(inputs), targets: small(targets) }, { backend: 'wasm', extensions, shardSize });
  return {
    label,
    warmupMs: ms(t0),
    async run() {
      const [t1, c1] = [performance.now(), ownCpuMs()];
      const r = await runJobOnPool(pool, { spec, weights, inputs, targets }, { backend: 'wasm', extensions, shardSize });
      return { totalMs: ms(t1), cpuMs: ownCpuMs() - c1, computeMs: r.timings.computeMs, reduceMs: r.timings.reduceMs, loss: r.loss };
    },
    close: () => pool.close(),
  };
}

async function queueMode(dir: string, label: string): Promise<Mode> {
  const settings = { url: redisUrl, prefix: `bpbench-${randomBytes(4).toString('hex')}`, queue: 'bench' };
  await writeSafetensorsFile(path.join(dir, 'weights.safetensors'), weights);
  await writeNpyFile(path.join(dir, 'inputs.npy'), inputs);
  await writeNpyFile(path.join(dir, 'targets.npy'), targets);
  // Warm-up: one queue shard of the timed shape (the worker's W micro-shards of S/W).
  await writeNpyFile(path.join(dir, 'warm-inputs.npy'), sliceRows(inputs, 0, Math.min(N, S)));
  await writeNpyFile(path.join(dir, 'warm-targets.npy'), sliceRows(targets, 0, Math.min(N, S)));
  writeFileSync(path.join(dir, 'model.json'), specText);
  const jobJson = (name: string, inp: string, tgt: string) => {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ model: 'model.json', weights: 'weights.safetensors', inputs: inp, targets: tgt, extensions, options: { shardSize: S } }));
    return file;
  };
  const t0 = performance.now();
  const worker = spawn(process.execPath, [path.join(ROOT, 'bin/backpack-ts.mjs'), 'worker', '--workers', String(W), '--redis', redisUrl, '--prefix', settings.prefix, '--queue', settings.queue, ...(VERBOSE ? [] : ['--quiet'])], { stdio: ['ignore', 'ignore', 'inherit'] });
  const ctx = await QueueContext.open(settings);
  const close = async () => {
    worker.kill('SIGTERM');
    if (worker.exitCode === null) await new Promise((r) => worker.once('exit', r));
    await deleteKeysWithPrefix(ctx.redis, `${settings.prefix}:`);
    await ctx.close();
  };
  try {
    const warm = await submitJob(ctx, await readJobFile(jobJson('warm', 'warm-inputs.npy', 'warm-targets.npy')));
    await waitForJob(ctx, warm.jobId, { pollMs: 50 });
  } catch (e) {
    await close();
    throw e;
  }
  const file = jobJson('job', 'inputs.npy', 'targets.npy');
  return {
    label,
    warmupMs: ms(t0),
    async run() {
      const [t1, c1, w1] = [performance.now(), ownCpuMs(), processCpuMs(worker.pid!)];
      const s = await submitJob(ctx, await readJobFile(file), { resultsInRedis: true });
      const submitMs = ms(t1);
      const summary = await waitForJob(ctx, s.jobId, { pollMs: 50 });
      const doneMs = ms(t1);
      await fetchResult(ctx, s.jobId, path.join(dir, 'out'));
      const totalMs = ms(t1);
      const cpuMs = ownCpuMs() - c1 + processCpuMs(worker.pid!) - w1;
      return { totalMs, cpuMs, submitMs, computeMs: doneMs - submitMs, fetchMs: totalMs - doneMs, uploadedMB: s.uploadedBytes / 2 ** 20, loss: summary.loss };
    },
    close,
  };
}

/** Median of every field over the runs, plus the range of the wall times. */
function summarize(runs: Row[]): Row {
  const med = (k: string) => {
    const v = runs.map((r) => r[k]).sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const out: Row = Object.fromEntries(Object.keys(runs[0]).map((k) => [k, med(k)]));
  out.minMs = Math.min(...runs.map((r) => r.totalMs));
  out.maxMs = Math.max(...runs.map((r) => r.totalMs));
  return out;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'bp-queue-bench-'));
const modes: Mode[] = [];
try {
  const started = new Date().toISOString();
  const load0 = os.loadavg()[0];
  const micro = Math.ceil(S / W);
  modes.push(await inProcessMode(S, `in-process (runJobOnPool), shards of ${S}`));
  // The queue worker splits each shard of S over its W threads: the same plan in-process isolates the queue's own cost.
  modes.push(await inProcessMode(micro, `in-process, shards of ${micro} (the queue worker's micro-shards)`));
  modes.push(await queueMode(dir, `queue (worker process + Redis), shards of ${S}`));
  // Interleaved, so that load from other work on the machine hits every mode alike.
  const runs: Row[][] = modes.map(() => []);
  for (let r = 0; r < REPEATS; r++) for (const [i, m] of modes.entries()) runs[i].push(await m.run());
  const [a, m, b] = runs.map(summarize);
  const cpus = os.cpus();
  const cell = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : fmt(x));
  const lines = [
    `- command: \`node --import tsx bench/queue-overhead.ts ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
    `- date: ${started}; machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}; load average (1 min) start/end ${load0.toFixed(2)}/${os.loadavg()[0].toFixed(2)}`,
    `- job: ${problem}, N=${N}, shards of ${S} (${Math.ceil(N / S)} shards), ${W} local worker threads, extensions [${extensions.join(', ') || 'grad only'}], backend wasm, Redis ${redisUrl.replace(/\/\/.*@/, '//')}`,
    `- ${REPEATS} timed job(s) per mode, interleaved, after a warm-up job of the same shard shapes per mode (in-process: W shards; queue: one queue shard); medians`,
    `- CPU ms: user + system of every thread of the bench process (in-process) or of the worker process plus the bench process's submit/wait/fetch (queue); Redis's own CPU not included`,
    '',
    '| mode | wall ms (median) | wall range | CPU ms | submit (read, validate, upload) ms | shards + reduce ms | fetch results ms | warm-up job ms | loss |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...[a, m, b].map((x, i) => `| ${modes[i].label} | ${fmt(x.totalMs)} | ${fmt(x.minMs)}–${fmt(x.maxMs)} | ${fmt(x.cpuMs)} | ${x.submitMs === undefined ? '–' : `${fmt(x.submitMs)} (${x.uploadedMB.toFixed(1)} MiB)`} | ${x.reduceMs === undefined ? cell(x.computeMs) : `${fmt(x.computeMs)} + ${fmt(x.reduceMs)}`} | ${cell(x.fetchMs)} | ${fmt(modes[i].warmupMs)} | ${x.loss.toPrecision(8)} |`),
    '',
    `overhead of queue mode, wall: ${fmt(b.totalMs - a.totalMs)} ms (${((100 * (b.totalMs - a.totalMs)) / a.totalMs).toFixed(1)}%) over in-process with shards of ${S}, ${fmt(b.totalMs - m.totalMs)} ms (${((100 * (b.totalMs - m.totalMs)) / m.totalMs).toFixed(1)}%, ${fmt((b.totalMs - m.totalMs) / Math.ceil(N / S))} ms per queue shard) over in-process with the same micro-shards; CPU: ${fmt(b.cpuMs - a.cpuMs)} ms and ${fmt(b.cpuMs - m.cpuMs)} ms`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const m of modes) await m.close();
  rmSync(dir, { recursive: true, force: true });
}
