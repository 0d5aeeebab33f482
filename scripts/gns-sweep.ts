/**
 * The gradient noise scale across batch sizes (McCandlish et al. 2018, "An Empirical Model of
 * Large-Batch Training"): B_simple = tr Σ / |G|² estimated from each mini-batch of size B (median
 * over the batches) and exactly from all samples of the pass. B_simple predicts the batch size
 * beyond which larger batches stop paying off; the per-batch estimates show how noisy it is at each B.
 *
 *   node --import tsx scripts/gns-sweep.ts [--data auto|generated|mnist|cifar10] [--out DIR] [--data-root DIR]
 *
 * Default: MNIST (data/mnist) or CIFAR-10 when present, else generated blobs shaped for
 * bench/problems/mlp_mnist.json (N = 1024). The model is trained for 30 SGD steps first (10 on
 * CIFAR-10; the noise scale of an untrained network says little). Writes OUT/sweep (rows, units) and OUT/sweep/report.
 */
import path from 'node:path';
import { useBackend } from '../src/backends/select.ts';
import { initWeights } from '../src/data/synthetic.ts';
import { writeReport } from '../src/report/write-report.ts';
import { runSweep } from '../src/sweep/run-sweep.ts';
import { parseSweepSpec } from '../src/sweep/spec.ts';
import { firstRows, fmt, scriptArgs, scriptData, sgdCheckpoints, table, writeCheckpoints } from './common.ts';

const t0 = performance.now();
const args = scriptArgs('out/gns-sweep');
const data = await scriptData(args, { N: 1024 });
await useBackend('wasm');
// Per data kind: SGD steps before measuring, batch sizes, and batches per pass (CIFAR's 3c3d costs ~25 ms per sample here).
const plan = {
  generated: { steps: 30, batchSizes: [8, 16, 32, 64, 128], maxBatches: undefined },
  mnist: { steps: 30, batchSizes: [8, 16, 32, 64, 128], maxBatches: 8 },
  cifar10: { steps: 10, batchSizes: [8, 16, 32], maxBatches: 4 },
}[data.kind];
const train = await firstRows(data.train, data.kind === 'generated' ? 1024 : 2048);
const saved = sgdCheckpoints(data.spec, initWeights(data.spec, 0), train, { steps: plan.steps, lr: 0.05, batchSize: 64, saveAt: [plan.steps] });
const [checkpoint] = await writeCheckpoints(path.join(args.out, 'checkpoints'), saved);

const { batchSizes } = plan;
const spec = await parseSweepSpec({
  model: data.spec,
  checkpoints: [{ path: checkpoint, name: `sgd-${plan.steps}` }],
  batchSizes,
  datasets: [data.test],
  quantities: ['GradientNoiseScale'],
  // Real data: the first maxBatches batches at each B (so N = maxBatches·B); generated: all 1024 samples.
  options: { mode: 'both', format: ['jsonl', 'csv'], maxBatches: plan.maxBatches },
}, process.cwd(), 'gns-sweep');
const s = await runSweep(spec, { out: path.join(args.out, 'sweep'), restart: true });

const lines = batchSizes.map((B) => {
  const rows = s.rows.filter((r) => r.batch_size === B);
  const perBatch = rows.filter((r) => r.batch !== 'all').map((r) => r.gns).filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
  const all = rows.find((r) => r.batch === 'all');
  const q = (p: number) => perBatch[Math.min(perBatch.length - 1, Math.floor(p * perBatch.length))];
  return [B, perBatch.length, fmt(q(0.1)), fmt(q(0.5)), fmt(q(0.9)), all?.samples ?? 0, fmt(all?.gns)];
});
process.stdout.write(`gradient noise scale, ${data.kind} data, model ${path.relative(process.cwd(), data.modelFile)} after ${plan.steps} SGD steps\n`);
process.stdout.write(table(['B', 'batches', 'p10', 'median', 'p90', 'N (all)', 'B_simple (all)'], lines));
process.stdout.write('p10/median/p90: B_simple from each mini-batch alone; "all": from every sample of the pass. A negative value means the\n' +
  'unbiased |G|² estimate of that batch was ≤ 0: the batch is far below the noise scale, noise dominates its gradient.\n');
const r = await writeReport(s.out, { png: 'no' });
process.stdout.write(`rows: ${s.files.join(', ')}\nreport: ${r.html}\n(${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
