/**
 * The benchmark on a GPU: median wall time of one full runBatch (forward + extended backward +
 * reduce) per (problem, N, quantity) on the cuda backend, like `npm run bench` (bench/run.ts, which
 * runs wasm and cpu) but in one process and within a time budget, so that it fits a short lease on a
 * GPU machine. Cells that cannot fit (bench/limits.ts) say why instead of a number.
 *
 *   node bench.cjs [--backend cuda] [--n 128,1024] [--problems a,b] [--extensions grad,BatchGrad,…]
 *                  [--repeats 3] [--budget-s 240] [--max-gb 64] [--out DIR]
 *
 * Times include the uploads of the inputs and the downloads of the results (runBatch returns host
 * tensors): what a worker spends per shard. Writes bench-cuda.json and bench-cuda.md under --out.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { verdict } from '../../bench/limits.ts';
import { listProblems, loadProblem, makeVectors } from '../../bench/problem.ts';
import { loadCudaAddon } from '../../src/backends/cuda/addon.ts';
import { useBackend } from '../../src/backends/select.ts';
import { runBatch } from '../../src/api/run.ts';
import { tf } from '../../src/core/tf.ts';
import { disposeNetwork } from '../../src/nn/network.ts';
import { EXTENSION_NAMES, type ExtensionName } from '../../src/vocabulary.ts';

const argv = process.argv.slice(2);
const value = (flag: string, def: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const backend = value('--backend', 'cuda');
const ns = list(value('--n', '128,1024')).map(Number);
const problems = list(value('--problems', listProblems().join(',')));
const quantities = list(value('--extensions', ['grad', ...EXTENSION_NAMES].join(',')));
const repeats = Number(value('--repeats', '3'));
const budgetMs = Number(value('--budget-s', '240')) * 1000;
const maxBytes = Number(value('--max-gb', '64')) * 2 ** 30;
const out = value('--out', '');

interface Cell {
  problem: string;
  N: number;
  quantity: string;
  medianMs?: number;
  minMs?: number;
  warmupMs?: number;
  runs?: number;
  notRun?: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const t0 = performance.now();
  await useBackend(backend);
  const library = backend === 'cuda' ? (tf.backend() as unknown as { device: { description: string } }).device.description : backend;
  console.log(`bench: ${backend} (${library}), N ${ns.join(', ')}, ${problems.length} problems, budget ${budgetMs / 1000} s`);
  const cells: Cell[] = [];
  for (const problem of problems) {
    for (const N of ns) {
      const p = loadProblem(problem, N, 0);
      const vectors = makeVectors(p.net, 1);
      for (const quantity of quantities) {
        const cell: Cell = { problem, N, quantity };
        cells.push(cell);
        if (performance.now() - t0 > budgetMs) {
          cell.notRun = 'time budget spent';
          continue;
        }
        const v = quantity === 'grad' ? {} : verdict(p.net, quantity, N, backend, maxBytes);
        if (v.reason) {
          cell.notRun = v.reason;
          console.log(`  ${problem} N=${N} ${quantity.padEnd(18)} not run: ${v.reason}`);
          continue;
        }
        const extensions = (quantity === 'grad' ? [] : [quantity]) as ExtensionName[];
        const run = () => {
          const s = performance.now();
          const r = runBatch(p.net, p.inputs, p.targets, { extensions, shardSize: v.shardSize, vectors: quantity === 'GGNMP' || quantity === 'HMP' ? vectors : undefined });
          if (!Number.isFinite(r.loss)) throw new Error(`non-finite loss ${r.loss}`);
          return performance.now() - s;
        };
        try {
          cell.warmupMs = run();
          // A slow cell gets fewer timed runs: the budget is for the whole table.
          const runs = cell.warmupMs > 5000 ? 1 : repeats;
          const times = Array.from({ length: runs }, run);
          cell.medianMs = median(times);
          cell.minMs = Math.min(...times);
          cell.runs = runs;
          console.log(`  ${problem} N=${N} ${quantity.padEnd(18)} median ${cell.medianMs.toFixed(1).padStart(9)} ms (${runs} runs, warm-up ${cell.warmupMs.toFixed(0)} ms)`);
        } catch (e) {
          cell.notRun = `failed: ${(e as Error).message.split('\n')[0]}`;
          console.log(`  ${problem} N=${N} ${quantity.padEnd(18)} FAILED: ${cell.notRun}`);
        }
      }
      disposeNetwork(p.net);
    }
  }
  const stats = backend === 'cuda' ? { ...loadCudaAddon().stats(), ...loadCudaAddon().cudaInfo() } : {};
  const md = [
    `# Benchmark on ${backend}: ${library}`,
    '',
    `Median wall ms of one runBatch (warm-up excluded; uploads and result downloads included). ${new Date().toISOString()}`,
    '',
    `| problem | N | ${quantities.join(' | ')} |`,
    `| --- | --- | ${quantities.map(() => '---').join(' | ')} |`,
    ...problems.flatMap((problem) => ns.map((N) => `| ${problem} | ${N} | ${quantities.map((q) => {
      const c = cells.find((x) => x.problem === problem && x.N === N && x.quantity === q);
      return c?.medianMs !== undefined ? c.medianMs.toFixed(1) : c?.notRun === 'time budget spent' ? '(budget)' : 'n/a';
    }).join(' | ')} |`)),
    '',
    ...cells.filter((c) => c.notRun && c.notRun !== 'time budget spent').map((c) => `- ${c.problem} N=${c.N} ${c.quantity}: ${c.notRun}`),
  ].join('\n');
  console.log(md);
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, `bench-${backend}.json`), `${JSON.stringify({ backend, library, cells, stats, seconds: (performance.now() - t0) / 1000 }, null, 1)}\n`);
    writeFileSync(path.join(out, `bench-${backend}.md`), `${md}\n`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
