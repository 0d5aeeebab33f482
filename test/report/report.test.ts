/**
 * `backpack-ts report` on run, sweep and spectrum directories: which plots appear (only those whose
 * data exists), the note listing the missing ones, the spectra per checkpoint (equal to `backpack-ts
 * spectrum`'s), the numbers behind the per-layer plots, a page with
 * no external references, the SVG files, and the errors.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setLogger } from '../../src/cli/log.ts';
import { readTensorMap } from '../../src/io/tensor-file.ts';
import { layerStats } from '../../src/report/analyze.ts';
import { fmtNum } from '../../src/report/svg.ts';
import { PLOT_IDS, writeReport } from '../../src/report/index.ts';
import { readSweepSpec, runSweep } from '../../src/sweep/index.ts';
import { runCli } from '../helpers/cli.ts';
import { exampleSweep, tempDir } from '../sweep/helpers.ts';

const tmp = tempDir('bp-report-');
const at = (...p: string[]) => path.join(tmp.dir, ...p);
let sweepOut: string;

/** `backpack-ts run` on the example's data and last checkpoint. */
async function runDir(name: string, extensions: string): Promise<string> {
  const out = at(name);
  const r = await runCli(['run', '--model', at('model.json'), '--weights', at('checkpoints', 'step-40.safetensors'), '--inputs', at('data', 'inputs.npy'),
    '--targets', at('data', 'targets.npy'), '--extensions', extensions, '--out', out, '--workers', '0', '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  return out;
}

beforeAll(async () => {
  const file = await exampleSweep(tmp.dir, {
    quantities: ['Variance', 'BatchL2Grad', 'GradientNoiseScale', 'DiagGGNMC'], options: { workers: 0, mode: 'both' },
    spectrum: { topK: 3, probes: 2, steps: 10, maxSamples: 48, shardSize: 16 },
  }, 96);
  sweepOut = (await runSweep(await readSweepSpec(file))).out;
});
afterAll(() => tmp.cleanup());
afterEach(() => setLogger(null));

const plotsIn = (html: string) => [...html.matchAll(/<svg [^>]*data-plot="([^"]+)"/g)].map((m) => m[1]);
const missingIn = (html: string) => [...html.matchAll(/data-missing="([^"]+)"/g)].map((m) => m[1]);

/** No scripts, stylesheets, images, frames or URLs: the only "http" is the SVG namespace. */
function expectSelfContained(html: string) {
  expect(html).not.toMatch(/<(script|link|img|iframe|object|embed)\b/i);
  expect(html).not.toMatch(/\b(src|href)\s*=/i);
  expect(html).not.toMatch(/url\(/i);
  expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '')).not.toMatch(/https?:|\/\/[a-z]/i);
}

describe('report', () => {
  it('a sweep directory: every plot, SVG files, no missing note', async () => {
    const r = await writeReport(sweepOut, { png: 'no' });
    const html = readFileSync(r.html, 'utf8');
    expect(plotsIn(html)).toEqual([...PLOT_IDS]);
    expect(r.missing).toEqual([]);
    expect(html).not.toContain('id="missing"');
    expectSelfContained(html);
    expect(r.pngs).toEqual([]);
    for (const id of PLOT_IDS) {
      const svg = readFileSync(path.join(sweepOut, 'report', `${id}.svg`), 'utf8');
      expect(svg).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" /);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      expect(svg).toContain('class="mark"');
    }
    // GNS across checkpoints: one point per checkpoint for each (batch size, all samples | median of batches) series.
    const gns = html.slice(html.indexOf('data-plot="gns-checkpoints"'));
    expect(gns.slice(0, gns.indexOf('</svg>')).match(/<circle class="mark"/g)).toHaveLength(2 * 2 * 2);
    // The per-layer table holds the numbers of the last unit's accumulated tensors.
    const t = await readTensorMap(path.join(sweepOut, 'units', 'step-40--b64--blobs', 'results.safetensors'));
    const layers = layerStats(new Map([...t].filter(([k]) => !k.includes('/'))));
    expect(html).toContain('per-layer plots from unit step-40--b64--blobs, accumulated over the whole pass');
    expect(layers.map((l) => l.layer)).toEqual(['0', '2']);
    for (const l of layers) expect(l.snr).toBeCloseTo(l.gradSq / l.varianceSum!, 12);
  });

  it('spectra per checkpoint: one density curve each, λ1…λ3 across checkpoints, the numbers of `backpack-ts spectrum`', async () => {
    const html = readFileSync(path.join(sweepOut, 'report', 'index.html'), 'utf8');
    const plot = (id: string) => {
      const from = html.slice(html.indexOf(`data-plot="${id}"`));
      return from.slice(0, from.indexOf('</svg>'));
    };
    expect(plot('spectral-density').match(/<polyline /g)).toHaveLength(2);
    expect(plot('top-eigenvalues').match(/<circle class="mark"/g)).toHaveLength(3 * 2);
    // The sweep's spectrum of step-40 is the CLI's, bit for bit (same data rows, shards, seed).
    const cli = await runCli(['spectrum', '--model', at('model.json'), '--weights', at('checkpoints', 'step-40.safetensors'), '--data', at('data', 'inputs.npy'), '--max-samples', '48',
      '--top-k', '3', '--density', '--probes', '2', '--steps', '10', '--shard-size', '16', '--backend', 'wasm', '--workers', '0', '--out', at('spectrum-cli'), '--quiet']);
    expect(cli.code, cli.stderr).toBe(0);
    const fromCli = JSON.parse(readFileSync(at('spectrum-cli', 'spectrum.json'), 'utf8'));
    const fromSweep = JSON.parse(readFileSync(path.join(sweepOut, 'spectra', 'step-40', 'spectrum.json'), 'utf8'));
    expect(fromSweep.eigenvalues).toEqual(fromCli.eigenvalues);
    expect(fromSweep.density).toEqual(fromCli.density);
    expect(plot('top-eigenvalues')).toContain(`λ1, step-40: ${fmtNum(fromCli.eigenvalues.top[0].value)}`);
    // A spectrum output directory alone: its density and eigenvalues, nothing else.
    const r = await writeReport(at('spectrum-cli'), { png: 'no' });
    expect(r.plots).toEqual(['spectral-density', 'top-eigenvalues']);
  });

  it('--unit picks the tensors of another unit', async () => {
    const r = await runCli(['report', sweepOut, '--unit', 'step-0--b16--blobs', '--out', at('report-unit'), '--png', 'no']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(at('report-unit', 'index.html'), 'utf8')).toContain('unit step-0--b16--blobs, accumulated');
    const bad = await runCli(['report', sweepOut, '--unit', 'nope', '--png', 'no']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/ReportInputError: --unit: 'nope' is not a completed unit .*completed: step-0--b16--blobs/);
  });

  it('a run directory: the per-layer plots and the histogram; GNS across checkpoints listed as missing', async () => {
    const out = await runDir('run-full', 'Variance,BatchL2Grad,DiagGGNExact,DiagHessian');
    const r = await runCli(['report', out, '--png', 'no']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('4 plots (layer-variance, layer-snr, sample-grad-norms, diag-curvature), 4 SVG');
    const html = readFileSync(path.join(out, 'report', 'index.html'), 'utf8');
    expect(plotsIn(html)).toEqual(['layer-variance', 'layer-snr', 'sample-grad-norms', 'diag-curvature']);
    expect(missingIn(html)).toEqual(['gns-checkpoints', 'spectral-density', 'top-eigenvalues']);
    expect(html).toContain('a run directory holds one checkpoint; pass a sweep directory');
    expect(html).toContain('no spectra: add a &quot;spectrum&quot; section to SWEEP.json');
    // Two diagonals → two bar series (and a legend) in the curvature plot.
    const diag = html.slice(html.indexOf('data-plot="diag-curvature"'));
    expect(diag.slice(0, diag.indexOf('</svg>')).match(/<rect class="mark"/g)).toHaveLength(2 * 2);
    expect(existsSync(path.join(out, 'report', 'gns-checkpoints.svg'))).toBe(false);
    expectSelfContained(html);
  });

  it('only a gradient: no plots, and the note says what to request for each', async () => {
    const out = await runDir('run-grad', '');
    const r = await writeReport(out, { png: 'no' });
    const html = readFileSync(r.html, 'utf8');
    expect(plotsIn(html)).toEqual([]);
    expect(missingIn(html)).toEqual([...PLOT_IDS]);
    expect(html).toMatch(/request Variance/);
    expect(html).toMatch(/request BatchL2Grad/);
    expect(html).toMatch(/request DiagGGNExact, DiagGGNMC or DiagHessian/);
  });

  it('a sweep in batches mode draws its first batch; a sweep without tensors only the noise scale', async () => {
    const file = await exampleSweep(at('batches'), { batchSizes: [32], quantities: ['Variance', 'GradientNoiseScale'], options: { workers: 0, mode: 'batches' } }, 64);
    const out = (await runSweep(await readSweepSpec(file))).out;
    let html = readFileSync((await writeReport(out, { png: 'no' })).html, 'utf8');
    expect(html).toContain('per-layer plots from unit step-40--b32--blobs, its batch-00000');
    expect(plotsIn(html)).toEqual(['layer-variance', 'layer-snr', 'gns-checkpoints']);
    expect(html).toContain('blobs, B=32 (median of batches)');
    expect(html).not.toContain('(all samples)');
    const spec = await readSweepSpec(file);
    spec.options = { ...spec.options, tensors: false };
    const bare = (await runSweep(spec, { out: at('batches', 'no-tensors') })).out;
    expect(existsSync(path.join(bare, 'units', 'step-0--b32--blobs', 'results.safetensors'))).toBe(false);
    html = readFileSync((await writeReport(bare, { png: 'no' })).html, 'utf8');
    expect(plotsIn(html)).toEqual(['gns-checkpoints']);
    expect(html).toContain('no result tensors to read (no completed unit has tensors');
  });

  it('errors: not a results directory (2); PNGs demanded without Chromium (5)', async () => {
    let r = await runCli(['report', at('data')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ReportInputError: .*no results\.safetensors/);
    r = await runCli(['report', sweepOut, '--png', 'yes', '--chromium', at('no-chromium'), '--out', at('report-png')]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/RasterizerUnavailableError: cannot write PNGs: no Chromium at .*no-chromium/);
    r = await runCli(['report', sweepOut, '--png', 'auto', '--chromium', at('no-chromium'), '--out', at('report-auto')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/7 SVG \(no PNG: no Chromium at /);
  });
});
