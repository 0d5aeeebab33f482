/**
 * Per-layer gradient signal-to-noise ratio over training: checkpoints made by a few SGD steps
 * (with the gradient backpack-ts computes), then one exact pass over held-out data per checkpoint
 * (a sweep in accumulate mode, Variance), and SNR = ‖grad‖² / Σ variance per layer.
 *
 *   node --import tsx scripts/snr-over-checkpoints.ts [--data auto|generated|mnist|cifar10] [--out DIR] [--data-root DIR]
 *
 * Default: MNIST (data/mnist) or CIFAR-10 when present, else examples/mlp on generated blobs
 * (512 samples per split). Writes OUT/sweep, OUT/snr-over-checkpoints.svg and OUT/sweep/report.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { useBackend } from '../src/backends/select.ts';
import { initWeights } from '../src/data/synthetic.ts';
import { readTensorMap } from '../src/io/tensor-file.ts';
import { layerStats, type LayerStats } from '../src/report/analyze.ts';
import { lineChart } from '../src/report/svg.ts';
import { writeReport } from '../src/report/write-report.ts';
import { unitDir } from '../src/sweep/output.ts';
import { runSweep } from '../src/sweep/run-sweep.ts';
import { parseSweepSpec } from '../src/sweep/spec.ts';
import { firstRows, fmt, ROOT, scriptArgs, scriptData, sgdCheckpoints, table, writeCheckpoints } from './common.ts';

const t0 = performance.now();
const args = scriptArgs('out/snr-over-checkpoints');
const data = await scriptData(args, { N: 512, generatedModel: path.join(ROOT, 'examples', 'mlp', 'model.json') });
await useBackend('wasm');
// Per data kind: checkpoints (SGD steps) and batches of 128 per pass (CIFAR's 3c3d is slow here).
const plan = {
  generated: { steps: [0, 5, 15, 30, 60], maxBatches: undefined },
  mnist: { steps: [0, 5, 15, 30, 60], maxBatches: 8 },
  cifar10: { steps: [0, 3, 6, 12], maxBatches: 1 },
}[data.kind];
const { steps } = plan;
const train = await firstRows(data.train, data.kind === 'generated' ? 512 : 2048);
const saved = sgdCheckpoints(data.spec, initWeights(data.spec, 0), train, { steps: steps.at(-1)!, lr: 0.1, batchSize: 32, saveAt: steps });
const files = await writeCheckpoints(path.join(args.out, 'checkpoints'), saved);

const spec = await parseSweepSpec({
  model: data.spec,
  checkpoints: files,
  batchSizes: [128],
  datasets: [data.test],
  quantities: ['Variance'],
  options: { mode: 'accumulate', maxBatches: plan.maxBatches },
}, process.cwd(), 'snr-over-checkpoints');
const s = await runSweep(spec, { out: path.join(args.out, 'sweep'), restart: true });

// Per-layer SNR of each checkpoint, from the accumulated tensors of its unit.
const perCheckpoint: { name: string; loss: number; layers: LayerStats[] }[] = [];
for (const row of s.rows) {
  const layers = layerStats(await readTensorMap(path.join(unitDir(s.out, row.unit), 'results.safetensors')));
  perCheckpoint.push({ name: row.checkpoint, loss: row.loss, layers });
}
const layerNames = perCheckpoint[0].layers.map((l) => l.layer);
process.stdout.write(`per-layer SNR ‖grad‖²/Σvariance, ${data.kind} data (${s.rows[0].samples} held-out samples), model ${path.relative(process.cwd(), data.modelFile)}\n`);
process.stdout.write(table(['checkpoint', 'loss', ...layerNames.map((l) => `layer ${l}`)], perCheckpoint.map((c) => [c.name, fmt(c.loss), ...c.layers.map((l) => fmt(l.snr))])));
process.stdout.write(`SNR = N²·‖mean ∇ℓ_n‖²/tr Cov(∇ℓ_n) with N = ${s.rows[0].samples}; a size-B mini-batch gradient has SNR·B/N².\n`);

const svg = lineChart(
  { id: 'snr-over-checkpoints', title: 'Per-layer gradient SNR over SGD steps', xLabel: 'checkpoint', yLabel: '‖grad‖² / Σ variance' },
  perCheckpoint.map((c) => c.name),
  layerNames.map((l, i) => ({ name: `layer ${l}`, values: perCheckpoint.map((c) => c.layers[i].snr ?? null) })),
);
const svgFile = path.join(args.out, 'snr-over-checkpoints.svg');
await writeFile(svgFile, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
const r = await writeReport(s.out, { png: 'no' });
process.stdout.write(`plot: ${svgFile}\nreport: ${r.html}\n(${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
