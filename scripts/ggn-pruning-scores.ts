/**
 * Pruning scores from the diagonal GGN (Optimal Brain Damage, LeCun et al. 1990): removing weight
 * θ_i changes the loss by about s_i = θ_i²·G_ii/2 (at a minimum, where the gradient term vanishes;
 * the GGN stands in for the Hessian). G is computed exactly over a whole dataset (a sweep in
 * accumulate mode, DiagGGNExact); the script prints the top-k scores and each layer's share, and
 * the predicted loss increase of pruning the lowest-scoring half of the parameters.
 *
 *   node --import tsx scripts/ggn-pruning-scores.ts [--data auto|generated|mnist|cifar10] [--out DIR] [--data-root DIR] [--top K]
 *
 * Default: MNIST (data/mnist) or CIFAR-10 when present, else bench/problems/mlp_mnist.json on
 * generated blobs (512 samples), after 40 SGD steps (10 on CIFAR-10). Writes OUT/scores.safetensors
 * (`<param>.pruning_score`) and OUT/top-k.json.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { useBackend } from '../src/backends/select.ts';
import { initWeights } from '../src/data/synthetic.ts';
import type { HostTensor } from '../src/io/host-tensor.ts';
import { readTensorMap, writeSafetensorsFile } from '../src/io/tensor-file.ts';
import { unitDir } from '../src/sweep/output.ts';
import { runSweep } from '../src/sweep/run-sweep.ts';
import { parseSweepSpec } from '../src/sweep/spec.ts';
import { topK } from '../src/sweep/summaries.ts';
import { firstRows, fmt, scriptArgs, scriptData, sgdCheckpoints, table, writeCheckpoints } from './common.ts';

const t0 = performance.now();
const args = scriptArgs('out/ggn-pruning');
const k = args.top ?? 10;
const data = await scriptData(args, { N: 512 });
await useBackend('wasm');
// Per data kind: SGD steps, batch size and batches of the pass (DiagGGNExact on CIFAR's 3c3d costs ~170 ms per sample here).
const plan = {
  generated: { steps: 40, batchSize: 128, maxBatches: undefined },
  mnist: { steps: 40, batchSize: 128, maxBatches: 8 },
  cifar10: { steps: 10, batchSize: 64, maxBatches: 1 },
}[data.kind];
const train = await firstRows(data.train, data.kind === 'generated' ? 512 : 2048);
const saved = sgdCheckpoints(data.spec, initWeights(data.spec, 0), train, { steps: plan.steps, lr: 0.05, batchSize: 64, saveAt: [plan.steps] });
const [checkpoint] = await writeCheckpoints(path.join(args.out, 'checkpoints'), saved);

const spec = await parseSweepSpec({
  model: data.spec,
  checkpoints: [{ path: checkpoint, name: `sgd-${plan.steps}` }],
  batchSizes: [plan.batchSize],
  datasets: [data.train],
  quantities: ['DiagGGNExact'],
  options: { mode: 'accumulate', topK: k, maxBatches: plan.maxBatches },
}, process.cwd(), 'ggn-pruning-scores');
const s = await runSweep(spec, { out: path.join(args.out, 'sweep'), restart: true });
const row = s.rows[0];
const results = await readTensorMap(path.join(unitDir(s.out, row.unit), 'results.safetensors'));
const weights = saved.get(plan.steps)!;

// s_i = θ_i² · diag(GGN)_i / 2, per parameter, in float64 for the sums.
const scores = new Map<string, HostTensor>();
for (const [param, theta] of weights) {
  const ggn = results.get(`${param}.diag_ggn_exact`);
  if (!ggn) continue;
  const th = theta.data as Float32Array;
  const g = ggn.data as Float32Array;
  scores.set(`${param}.pruning_score`, { dtype: 'float32', shape: theta.shape, data: th.map((t, i) => (t * t * g[i]) / 2) });
}
await writeSafetensorsFile(path.join(args.out, 'scores.safetensors'), scores);

const params = [...scores.keys()].map((key) => key.replace(/\.pruning_score$/, ''));
const all = Float64Array.from([...scores.values()].flatMap((t) => Array.from(t.data as Float32Array))).sort();
const total = all.reduce((a, b) => a + b, 0);
const half = all.subarray(0, Math.floor(all.length / 2)).reduce((a, b) => a + b, 0);
const perParam = params.map((p) => {
  const d = scores.get(`${p}.pruning_score`)!.data as Float32Array;
  const sum = d.reduce((a, b) => a + b, 0);
  return [p, d.length, fmt(sum), `${((100 * sum) / total).toFixed(1)}%`];
});
const top = topK(scores, params, 'pruning_score', k);
process.stdout.write(`OBD pruning scores θ²·diag(GGN)/2, ${data.kind} data (N=${row.samples}), model ${path.relative(process.cwd(), data.modelFile)} after ${plan.steps} SGD steps, loss ${fmt(row.loss)}\n`);
process.stdout.write(table(['parameter', 'entries', 'Σ score', 'share'], perParam));
process.stdout.write(`\ntop ${k} (the weights pruning would hurt most):\n`);
process.stdout.write(table(['parameter', 'index', 'score'], top.map((t) => [t.param, `[${t.index.join(', ')}]`, fmt(t.value)])));
process.stdout.write(`\npruning the ${Math.floor(all.length / 2)} lowest-scoring of ${all.length} parameters: predicted loss increase ${fmt(half)} (of ${fmt(total)} for all)\n`);
await writeFile(path.join(args.out, 'top-k.json'), `${JSON.stringify({ k, N: row.samples, loss: row.loss, top }, null, 2)}\n`);
process.stdout.write(`scores: ${path.join(args.out, 'scores.safetensors')}\n(${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
