/**
 * The report page: one self-contained HTML file (inline SVG, inline CSS, no scripts, no external
 * references), readable offline and in any browser.
 */
import type { SweepRow } from '../sweep/compute.ts';
import { perSampleSnr, type LayerStats } from './analyze.ts';
import type { ReportInput } from './load.ts';
import type { Missing, Plot } from './plots.ts';
import { esc, fmtNum } from './svg.ts';

/** Escapes, then shows `code` spans as <code>. */
const text = (s: string) => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>');
const num = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : fmtNum(v));

const CSS = `
body { font-family: Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 980px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
figure { margin: 18px 0; } figcaption { font-size: 13px; color: #555; max-width: 720px; }
table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.missing { background: #fff8e1; border: 1px solid #f0d58c; padding: 8px 14px; font-size: 14px; }
code { background: #f2f2f2; padding: 0 3px; }
.note { font-size: 13px; color: #555; }
`;

/** The chosen tensors' numbers per layer; BackPACK's ρ-scaled values, and the per-sample SNR where N is known. */
function layerTable(layers: LayerStats[], labels: string[], N: number | null): string {
  if (layers.length === 0) return '';
  const diagFields = [...new Set(layers.flatMap((l) => Object.keys(l.diag)))];
  const head = ['layer', 'parameters', '‖grad‖²', 'Σ variance (ρ-scaled)', N === null ? '‖grad‖² / Σ variance' : 'per-sample SNR', ...diagFields.map((f) => `mean |${f}|`)];
  const body = layers.map((l, i) => [labels[i], l.params.join(', '), num(l.gradSq), num(l.varianceSum), num(N === null ? l.snr : perSampleSnr(l, N)), ...diagFields.map((f) => num(l.diag[f]?.meanAbs))]);
  const note = '<p class="note">‖grad‖², Σ variance and the diagonals are BackPACK\'s (of the loss as reduced; per-sample gradients of ρ·ℓ_n); the SNR is per sample, of the unscaled loss (docs/conventions.md).</p>';
  return `<h2>Per layer</h2>${note}<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${body.map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`).join('')}</table>`;
}

/** One line per unit: its accumulated row when there is one, else the mean over its batches. */
function unitTable(rows: SweepRow[]): string {
  if (rows.length === 0) return '';
  const units = [...new Set(rows.map((r) => r.unit))];
  const keys = ['loss', 'grad_norm', 'variance_trace', 'gns', 'ggn_trace_exact', 'ggn_trace_mc', 'hessian_trace'].filter((k) => rows.some((r) => k in r));
  const line = (unit: string) => {
    const mine = rows.filter((r) => r.unit === unit);
    const all = mine.find((r) => r.batch === 'all');
    const pick = (k: string) => {
      if (all) return (all as unknown as Record<string, number | null>)[k];
      const v = mine.map((r) => (r as unknown as Record<string, number | null>)[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
      return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
    };
    return [unit, all ? 'all samples' : `mean of ${mine.length} batches`, ...keys.map((k) => num(pick(k)))];
  };
  const head = ['unit', 'over', ...keys];
  return `<h2>Units</h2><table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${units.slice(0, 500).map((u) => `<tr>${line(u).map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`).join('')}</table>`;
}

export function reportHtml(input: ReportInput, plots: Plot[], missing: Missing[], layers: LayerStats[], labels: string[]): string {
  const source = input.kind === 'sweep'
    ? `sweep directory <code>${esc(input.dir)}</code>: ${input.units.completed} of ${input.units.planned} units complete, ${input.rows.length} rows; per-layer plots from ${esc(input.tensorsFrom)}`
    : `run directory <code>${esc(input.dir)}</code>; tensors from ${esc(input.tensorsFrom)}`;
  const note = missing.length === 0 ? '' : `<div class="missing" id="missing"><strong>Not plotted</strong> (their data is missing):<ul>${missing.map((m) => `<li data-missing="${esc(m.id)}">${esc(m.title)}: ${text(m.why)}</li>`).join('')}</ul></div>`;
  const figures = plots.map((p) => `<figure id="plot-${esc(p.id)}">\n${p.svg}\n<figcaption>${text(p.caption)}</figcaption></figure>`).join('\n');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>backpack-ts report: ${esc(input.dir)}</title>`,
    `<style>${CSS}</style></head><body>`,
    '<h1>backpack-ts report</h1>',
    `<p>${source}.</p>`,
    note,
    figures,
    layerTable(layers, labels, input.sets.find((s) => s.tensors === input.tensors)?.N ?? null),
    unitTable(input.rows),
    '</body></html>',
    '',
  ].join('\n');
}
