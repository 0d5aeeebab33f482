/** The tables of bench/RESULTS.md (and their console form), from what bench/run.ts collected. */
import { anchorFor, ANCHOR_SOURCE } from './anchors.ts';
import { CELL_TARGET, GEOMEAN_TARGET, ran, type BackpackCell, type Cell, type Cores, type OurCell, type ProblemRun } from './types.ts';

export const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const coresLabel = (c: Cores) => (c === 1 ? '1 core' : '2 cores');

export function ourCell(r: ProblemRun, cores: Cores, q: string): Cell | undefined {
  return r.ours[cores]?.cells.find((c) => c.quantity === q);
}
export function bpCell(r: ProblemRun, cores: Cores, q: string): BackpackCell | undefined {
  return r.backpack[cores]?.cells.find((c) => c.quantity === q);
}

/** "(2w)" = 2 workers × 1 thread, "(2t)" = one runBatch × 2 threads. */
const variantTag = (c: OurCell) => (c.cores === 1 ? '' : c.best === 'pool' ? ' (2w)' : ' (2t)');

export interface Ratio {
  problem: string;
  N: number;
  cores: Cores;
  quantity: string;
  ours: number;
  backpack: number;
  ratio: number;
  cell: OurCell;
  /** Against this run's BackPACK (true) or the reference of another day (false). */
  sameRun: boolean;
}

/** Every (problem, N, quantity) of one core count with both numbers. */
export function ratios(runs: ProblemRun[], cores: Cores, quantities: string[]): Ratio[] {
  const out: Ratio[] = [];
  for (const r of runs) {
    for (const q of quantities) {
      const c = ourCell(r, cores, q);
      if (!ran(c)) continue;
      const b = bpCell(r, cores, q);
      if (b?.medianMs !== undefined) out.push({ problem: r.problem, N: r.N, cores, quantity: q, ours: c.medianMs, backpack: b.medianMs, ratio: c.medianMs / b.medianMs, cell: c, sameRun: true });
      else if (!r.backpack[cores] && cores === 1) {
        const a = anchorFor(r.problem, r.N, q);
        if (a !== undefined) out.push({ problem: r.problem, N: r.N, cores, quantity: q, ours: c.medianMs, backpack: a, ratio: c.medianMs / a, cell: c, sameRun: false });
      }
    }
  }
  return out;
}

export const geomean = (xs: number[]) => (xs.length ? Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length) : NaN);

function ourText(c: Cell | undefined): string {
  if (!c) return '—';
  if (!ran(c)) return c.kind === 'size' ? 'cannot run' : 'failed';
  return `${fmt(c.medianMs)}${variantTag(c)}`;
}

/**
 * The comparison table of one core count in the anchors' layout: per (problem, N) a row of ours,
 * one of BackPACK and one of the ratio; ✗ and bold where a cell misses its target.
 */
export function comparisonTable(runs: ProblemRun[], cores: Cores, quantities: string[]): { markdown: string; console: string; rs: Ratio[]; gm: number } {
  const rs = ratios(runs, cores, quantities);
  const md = [`| problem | N | | ${quantities.join(' | ')} |`, `|---|---|---|${quantities.map(() => '---:').join('|')}|`];
  const con: string[][] = [['problem', 'N', '', ...quantities]];
  for (const r of runs) {
    if (!r.ours[cores] && !r.backpack[cores]) continue;
    const ours = quantities.map((q) => ourText(ourCell(r, cores, q)));
    const bp = quantities.map((q) => {
      const b = bpCell(r, cores, q);
      if (b) return b.medianMs !== undefined ? fmt(b.medianMs) : b.error?.startsWith('output') ? 'cannot run' : 'failed';
      const x = rs.find((x) => x.problem === r.problem && x.N === r.N && x.quantity === q && !x.sameRun);
      return x ? `*${fmt(x.backpack)}*†` : '—';
    });
    const rat = quantities.map((q) => {
      const x = rs.find((x) => x.problem === r.problem && x.N === r.N && x.quantity === q);
      if (!x) return '—';
      const miss = x.ratio > CELL_TARGET;
      if (!x.sameRun) return `*${x.ratio.toFixed(2)}*†`;
      return miss ? `**${x.ratio.toFixed(2)} ✗**` : x.ratio.toFixed(2);
    });
    md.push(`| ${r.problem} | ${r.N} | ours | ${ours.join(' | ')} |`);
    md.push(`| | | BackPACK | ${bp.join(' | ')} |`);
    md.push(`| | | ours / BackPACK | ${rat.join(' | ')} |`);
    con.push([r.problem, String(r.N), 'ours', ...ours], ['', '', 'BackPACK', ...bp.map((s) => s.replace(/[*]/g, ''))], ['', '', 'ratio', ...rat.map((s) => s.replace(/[*]/g, ''))]);
  }
  const same = rs.filter((x) => x.sameRun);
  const gm = geomean(same.map((x) => x.ratio));
  const widths = con[0].map((_, j) => Math.max(...con.map((row) => row[j].length)));
  const consoleText = con.map((row) => row.map((c, j) => (j < 3 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ')).join('\n');
  return { markdown: md.join('\n'), console: consoleText, rs, gm };
}

/** One line on a table's geometric mean and the cells that miss. */
export function verdictLine(rs: Ratio[], gm: number, cores: Cores): string {
  const same = rs.filter((x) => x.sameRun);
  if (!same.length) {
    const ref = rs.filter((x) => !x.sameRun);
    return ref.length
      ? `No BackPACK timings from this run (run with --compare-backpack). † = ${ANCHOR_SOURCE}: indicative only; geometric mean against it ${geomean(ref.map((x) => x.ratio)).toFixed(2)} over ${ref.length} cells.`
      : 'No BackPACK timings from this run (run with --compare-backpack).';
  }
  const missed = same.filter((x) => x.ratio > CELL_TARGET);
  return `Geometric mean of ours / BackPACK over ${same.length} cells: **${gm.toFixed(2)}** ${gm <= GEOMEAN_TARGET ? '✓' : '✗'} (target ≤ ${GEOMEAN_TARGET}); cells with ratio ≤ ${CELL_TARGET.toFixed(1)}: ${same.length - missed.length} of ${same.length}${missed.length ? ` (✗ = missed)` : ' ✓'}.${cores === 2 ? ' Ours: (2w) = 2 worker threads × 1 kernel thread (runJobOnPool, shards of N/2), (2t) = one in-process runBatch with 2 kernel threads — the faster of the two (both in the details below).' : ''}`;
}

/** The cells that miss a target, and what holds them back where a profile says. */
export function missesSection(tables: { cores: Cores; rs: Ratio[]; gm: number }[], profiled: boolean): string {
  const lines: string[] = [];
  for (const t of tables) {
    const same = t.rs.filter((x) => x.sameRun);
    if (!same.length) continue;
    for (const x of same.filter((x) => x.ratio > CELL_TARGET).sort((a, b) => b.ratio - a.ratio)) {
      const p = x.cell.profile;
      let why: string;
      if (p) {
        const outside = Math.max(0, p.runMs - p.kernelMs);
        const parts = p.top.filter((k) => k.ms >= 0.05 * p.runMs).map((k) => `${k.name} ${((100 * k.ms) / p.runMs).toFixed(0)} % (${k.calls} call${k.calls > 1 ? 's' : ''})`);
        const heavy = p.topShapes[0];
        why =
          `profile of ${p.what} (${fmt(p.runMs)} ms): ` +
          (parts.length ? `kernels ${parts.join(', ')}` : 'no single kernel above 5 %') +
          `; outside kernels (JS, reads to the host, merge, finalise) ${((100 * outside) / p.runMs).toFixed(0)} %` +
          (heavy ? `; heaviest call site \`${heavy.name}\` ${fmt(heavy.ms)} ms` : '');
      } else {
        why = profiled ? 'not profiled (the cell did not run in-process)' : 'not profiled (--no-profile)';
      }
      lines.push(`- ${coresLabel(t.cores)}, ${x.problem} N=${x.N} ${x.quantity}: ${x.ratio.toFixed(2)} (ours ${fmt(x.ours)} ms${variantTag(x.cell)}, BackPACK ${fmt(x.backpack)} ms) — ${why}`);
    }
    if (Number.isFinite(t.gm) && t.gm > GEOMEAN_TARGET) {
      const worst = [...same].sort((a, b) => b.ratio - a.ratio).slice(0, 5);
      lines.push(`- ${coresLabel(t.cores)}: geometric mean ${t.gm.toFixed(2)} > ${GEOMEAN_TARGET}; the largest ratios: ${worst.map((x) => `${x.problem} N=${x.N} ${x.quantity} ${x.ratio.toFixed(2)}`).join(', ')}`);
    }
  }
  return lines.length ? lines.join('\n') : 'None: every cell with both numbers is at or below ratio 1.0, and both geometric means are at or below 0.7.';
}

/** Ours only (quantities BackPACK has no column for), anchors' layout, per core count. */
export function oursOnlyGrid(runs: ProblemRun[], cores: Cores, quantities: string[]): string {
  const md = [`| problem | N | ${quantities.join(' | ')} |`, `|---|---|${quantities.map(() => '---:').join('|')}|`];
  for (const r of runs) {
    if (!r.ours[cores]) continue;
    md.push(`| ${r.problem} | ${r.N} | ${quantities.map((q) => ourText(ourCell(r, cores, q))).join(' | ')} |`);
  }
  return md.join('\n');
}

/** Every measured cell: both variants, CPU time, runs, RSS; BackPACK's beside it. */
export function detailsTable(runs: ProblemRun[], coresList: Cores[], quantities: string[]): { markdown: string; notes: string[] } {
  const header = ['problem', 'N', 'cores', 'quantity', 'ours ms', 'runs', 'CPU ms (sys)', 'compute / reduce ms', '2w: ms (CPU)', '2t: ms (CPU)', 'BackPACK ms', 'runs', 'CPU ms', 'ratio', 'CPU ratio', 'ours peak RSS MB', 'BackPACK peak RSS MB'];
  const md = [`| ${header.join(' | ')} |`, `|---|---|---|---|${header.slice(4).map(() => '---:').join('|')}|`];
  const notes: string[] = [];
  for (const r of runs) {
    for (const cores of coresList) {
      if (!r.ours[cores]) continue;
      for (const q of quantities) {
        const c = ourCell(r, cores, q);
        if (!c) continue;
        const b = bpCell(r, cores, q);
        const bpCols = b ? (b.medianMs !== undefined ? [fmt(b.medianMs), String(b.runs), fmt(b.cpuMs!)] : [`${b.error?.startsWith('output') ? 'cannot run' : 'failed'}: ${esc(b.error ?? '')}`, '—', '—']) : ['—', '—', '—'];
        if (!ran(c)) {
          notes.push(`${r.problem} N=${r.N} ${coresLabel(cores)} ${q}: ${c.kind === 'size' ? 'cannot run' : 'failed'}: ${c.notRun.replace(/^failed: /, '')}`);
          md.push(`| ${r.problem} | ${r.N} | ${cores} | ${q} | **${c.kind === 'size' ? 'cannot run' : 'failed'}**: ${esc(c.notRun.replace(/^failed: /, ''))} | — | — | — | — | — | ${bpCols.join(' | ')} | — | — | — | ${b?.peakRssMB ? b.peakRssMB.toFixed(0) : '—'} |`);
          continue;
        }
        const best = c.best === 'pool' ? c.pool! : c.inProcess!;
        const v = (t: { medianMs: number; cpuMs: number } | undefined) => (t ? `${fmt(t.medianMs)} (${fmt(t.cpuMs)})` : '—');
        const ratio = b?.medianMs !== undefined ? (c.medianMs / b.medianMs).toFixed(2) : '—';
        const cpuRatio = b?.cpuMs ? (c.cpuMs / b.cpuMs).toFixed(2) : '—';
        md.push(
          `| ${r.problem} | ${r.N} | ${cores} | ${q}${best.leakedTensors ? ' ⚠' : ''} | ${fmt(c.medianMs)}${variantTag(c)} | ${best.runs} | ${fmt(best.cpuMs)} (${fmt(best.sysMs)}) | ${fmt(best.computeMs)} / ${fmt(best.reduceMs)} | ${cores === 2 ? v(c.pool) : '—'} | ${cores === 2 ? v(c.inProcess) : '—'} | ${bpCols.join(' | ')} | ${ratio} | ${cpuRatio} | ${c.peakRssMB.toFixed(0)} | ${b?.peakRssMB ? b.peakRssMB.toFixed(0) : '—'} |`,
        );
        if (c.variantNote) notes.push(`${r.problem} N=${r.N} ${coresLabel(cores)} ${q}: ${c.variantNote}`);
        if (c.inProcess?.shardSize) notes.push(`${r.problem} N=${r.N} ${coresLabel(cores)} ${q}: in-process runBatch in ${c.inProcess.shards} shards of ≤ ${c.inProcess.shardSize} (bench/limits.ts: one shard of N would not fit the backend's memory budget)`);
        for (const t of [c.inProcess, c.pool]) if (t?.leakedTensors) notes.push(`⚠ ${r.problem} N=${r.N} ${coresLabel(cores)} ${q}: tf.memory().numTensors grew by ${t.leakedTensors} over the timed runs (a tensor leak)`);
      }
    }
  }
  return { markdown: md.join('\n'), notes };
}

/** Peak RSS per process (ours per core count; BackPACK per thread count), and wall time of each. */
export function processTable(runs: ProblemRun[], coresList: Cores[]): string {
  const md = ['| problem | N | parameters | side | processes | RSS after load MB | peak RSS MB | wall s |', '|---|---|---:|---|---:|---:|---:|---:|'];
  for (const r of runs) {
    const params = Object.values(r.ours).find(Boolean)?.numParams;
    for (const cores of coresList) {
      const b = r.backpack[cores];
      if (b) md.push(`| ${r.problem} | ${r.N} | ${params?.toLocaleString('en-US') ?? '—'} | BackPACK, ${cores} thread${cores > 1 ? 's' : ''} | ${b.processes} | — | ${b.peakRssMB.toFixed(0)} | ${b.wallS.toFixed(0)} |`);
      const o = r.ours[cores];
      if (o) md.push(`| ${r.problem} | ${r.N} | ${o.numParams.toLocaleString('en-US')} | ours, ${coresLabel(cores)} | ${o.processes} | ${o.rssAfterLoadMB.toFixed(0)} | ${o.peakRssMB.toFixed(0)} | ${o.wallS.toFixed(0)} |`);
    }
  }
  return md.join('\n');
}
