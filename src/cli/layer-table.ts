/** A readable per-parameter summary of a job's results. */
import type { HostTensor } from '../io/host-tensor.ts';

const sum = (t: HostTensor | undefined, f: (v: number) => number = (v) => v) => {
  if (!t) return NaN;
  let s = 0;
  for (let i = 0; i < t.data.length; i++) s += f(Number(t.data[i]));
  return s;
};

const fmt = (v: number) => (Number.isNaN(v) ? '-' : v.toExponential(3));

/** Columns: ‖grad‖, total variance (Σ variance), mean per-sample ‖∇ℓ_n‖² (mean batch_l2). */
export function formatLayerTable(paramNames: string[], results: Map<string, HostTensor>, N: number): string {
  const rows = paramNames.map((p) => {
    const grad = results.get(`${p}.grad`);
    return [
      p,
      `[${grad?.shape.join(',')}]`,
      fmt(Math.sqrt(sum(grad, (v) => v * v))),
      fmt(sum(results.get(`${p}.variance`))),
      fmt(sum(results.get(`${p}.batch_l2`)) / N),
    ];
  });
  const header = ['param', 'shape', '|grad|', 'sum variance', 'mean per-sample L2'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => `  ${cells.map((s, c) => s.padEnd(widths[c])).join('  ')}\n`;
  return line(header) + line(widths.map((w) => '-'.repeat(w))) + rows.map(line).join('');
}
