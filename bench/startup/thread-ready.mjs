// Measures "a worker thread ready" in the compiled package: the CPU time this process spends from
// starting one worker thread until that thread has loaded the compiled worker module
// (dist/src/worker/thread-worker.js, what piscina starts) and initialised its tensor backend, i.e.
// until it could take a shard. process.cpuUsage() counts every thread of the process.
//   node bench/startup/thread-ready.mjs BACKEND   → prints {"user":…, "system":…} (seconds)
import { Worker } from 'node:worker_threads';

const backend = process.argv[2] ?? 'auto';
const dist = new URL('../../dist/src/', import.meta.url).href;
const code = `
  import { parentPort } from 'node:worker_threads';
  await import(${JSON.stringify(`${dist}worker/thread-worker.js`)});
  const { useBackend } = await import(${JSON.stringify(`${dist}backends/select.js`)});
  const name = await useBackend(${JSON.stringify(backend)});
  parentPort.postMessage(name);
`;
const t0 = process.cpuUsage();
const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
const name = await new Promise((resolve, reject) => {
  worker.once('message', resolve);
  worker.once('error', reject);
});
const dt = process.cpuUsage(t0);
await worker.terminate();
process.stdout.write(`${JSON.stringify({ user: dt.user / 1e6, system: dt.system / 1e6, backend: name })}\n`);
