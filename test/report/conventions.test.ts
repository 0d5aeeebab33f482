/**
 * What a report's numbers mean. Layers are named by their modules ("0 · Linear(16→32)"); the
 * per-layer variance, SNR and the per-sample norms are the conventional per-sample quantities of
 * the unscaled loss (checked against per-sample gradients recovered from BatchGrad: ∇ℓ_n =
 * grad_batch_n / ρ, ρ = 1/N for a mean CrossEntropyLoss), not BackPACK's ρ-scaled ones; and a
 * sweep's per-layer plots put its checkpoints side by side.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/io/host-tensor.ts';
import { readTensorMap } from '../../src/io/tensor-file.ts';
import { writeReport } from '../../src/report/index.ts';
import { readSweepSpec, runSweep } from '../../src/sweep/index.ts';
import { runCli } from '../helpers/cli.ts';
import { exampleSweep, tempDir } from '../sweep/helpers.ts';

const N = 48;
const tmp = tempDir('bp-report-conv-');
const at = (...p: string[]) => path.join(tmp.dir, ...p);
let html: string;
let grads: Map<string, HostTensor>;
let sweepOut: string;

/** The value in a mark's <title> ("…: 1.23e-2") for the label given. */
function markValue(svgOf: string, label: string): number {
  const m = new RegExp(`<title>${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ([^<]+)</title>`).exec(svgOf);
  if (!m) throw new Error(`no mark titled '${label}' in ${svgOf.slice(0, 300)}`);
  return Number(m[1]);
}
const plot = (page: string, id: string) => {
  const s = page.slice(page.indexOf(`data-plot="${id}"`));
  return s.slice(0, s.indexOf('</svg>'));
};

/** Per-sample gradients of the unscaled loss for one layer's parameters: rows [N, D]. */
function perSample(layer: string): Float64Array[] {
  const rho = 1 / N;
  const rows = Array.from({ length: N }, () => [] as number[]);
  for (const [k, t] of grads) {
    if (!k.startsWith(`${layer}.`) || !k.endsWith('.grad_batch')) continue;
    const d = t.data as Float32Array;
    const w = d.length / N;
    for (let n = 0; n < N; n++) for (let j = 0; j < w; j++) rows[n].push(d[n * w + j] / rho);
  }
  return rows.map((r) => Float64Array.from(r));
}

function moments(rows: Float64Array[]): { meanSq: number; traceCov: number } {
  const D = rows[0].length;
  const mean = new Float64Array(D);
  for (const r of rows) for (let j = 0; j < D; j++) mean[j] += r[j] / rows.length;
  let traceCov = 0;
  for (const r of rows) for (let j = 0; j < D; j++) traceCov += (r[j] - mean[j]) ** 2 / rows.length;
  return { meanSq: mean.reduce((a, v) => a + v * v, 0), traceCov };
}

beforeAll(async () => {
  const sweep = await exampleSweep(tmp.dir, { batchSizes: [N], quantities: ['Variance'], options: { workers: 0, mode: 'accumulate' } }, N);
  sweepOut = (await runSweep(await readSweepSpec(sweep))).out;
  const out = at('run');
  const r = await runCli(['run', '--model', at('model.json'), '--weights', at('checkpoints', 'step-40.safetensors'), '--inputs', at('data', 'inputs.npy'),
    '--targets', at('data', 'targets.npy'), '--extensions', 'BatchGrad,Variance', '--out', out, '--workers', '0', '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  html = readFileSync((await writeReport(out, { png: 'no' })).html, 'utf8');
  grads = await readTensorMap(path.join(out, 'results.safetensors'));
}, 120_000);
afterAll(() => tmp.cleanup());

describe('a run report', () => {
  it('names each layer by its module', () => {
    const snr = plot(html, 'layer-snr');
    expect(snr).toContain('>0 · Linear(16→32)</text>');
    expect(snr).toContain('>2 · Linear(32→4)</text>');
    expect(html).not.toContain('>layer 0<');
  });

  it.each(['0', '2'])('layer %s: the SNR is the per-sample ‖E ∇ℓ_n‖² / tr Cov(∇ℓ_n), the variance tr Cov(∇ℓ_n)', (layer) => {
    const { meanSq, traceCov } = moments(perSample(layer));
    const label = layer === '0' ? '0 · Linear(16→32)' : '2 · Linear(32→4)';
    expect(markValue(plot(html, 'layer-snr'), label) / (meanSq / traceCov)).toBeCloseTo(1, 2);
    expect(markValue(plot(html, 'layer-variance'), label) / traceCov).toBeCloseTo(1, 2);
    expect(plot(html, 'layer-snr')).toContain('per-sample SNR');
    expect(html).toContain('Per-sample SNR ‖E ∇ℓ_n‖² / tr Cov(∇ℓ_n)');
  });

  it('the histogram shows ‖∇ℓ_n‖ of the unscaled loss (BackPACK’s norms ÷ ρ) and says so', () => {
    const norms = ['0', '2'].map(perSample).reduce((acc, rows) => acc.map((v, n) => v + rows[n].reduce((a, x) => a + x * x, 0)), new Float64Array(N)).map(Math.sqrt);
    const hist = plot(html, 'sample-grad-norms');
    const edges = [...hist.matchAll(/<title>\[([^,]+), ([^)]+)\): \d+<\/title>/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const lo = Math.min(...edges.map((e) => e[0]));
    const hi = Math.max(...edges.map((e) => e[1]));
    const [min, max] = [Math.min(...norms), Math.max(...norms)];
    expect(lo / min).toBeCloseTo(1, 2);
    expect(hi / max).toBeCloseTo(1, 2);
    expect(html).toContain(`ρ = ${(1 / N).toPrecision(3)}`);
    expect(hist).toContain('‖∇ℓ_n‖');
  });
});

describe('a sweep report', () => {
  it('puts the checkpoints side by side in the per-layer plots, each with its own unit’s numbers', async () => {
    const page = readFileSync((await writeReport(sweepOut, { png: 'no' })).html, 'utf8');
    const variance = plot(page, 'layer-variance');
    expect(variance.match(/<rect class="mark"/g)).toHaveLength(2 * 2); // 2 layers × 2 checkpoints
    for (const [i, checkpoint] of ['step-0', 'step-40'].entries()) {
      const unit = await readTensorMap(path.join(sweepOut, 'units', `${checkpoint}--b${N}--blobs`, 'results.safetensors'));
      // Σ variance of layer 0, ρ-scaled, ÷ ρ² (ρ = 1/N): the unit's tr Cov(∇ℓ_n).
      const sum = ['0.weight', '0.bias'].reduce((a, p) => a + (unit.get(`${p}.variance`)!.data as Float32Array).reduce((b, v) => b + v, 0), 0);
      expect(markValue(variance, `${checkpoint}, 0 · Linear(16→32)`) / (sum * N * N), `checkpoint ${i}`).toBeCloseTo(1, 2);
      expect(variance).toContain(`>${checkpoint}</text>`);
    }
  });
});
