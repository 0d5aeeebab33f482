/**
 * Plain SVG charts (no scripts, no fonts or styles from elsewhere), so a report page is one
 * self-contained file and each plot can also be saved alone as an .svg. Three kinds: grouped bars
 * over categories, a histogram, lines over categories; y on a linear or log10 scale. Every data
 * mark has class "mark" and a <title> with its value (a tooltip in browsers, a hook for tests).
 */

export interface Series {
  name: string;
  /** One value per category; null (or ≤ 0 on a log scale) draws nothing. */
  values: (number | null)[];
}

export interface ChartFrame {
  /** Also the id of the <svg> (data-plot attribute) and the file name of the saved plot. */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** Show the legend even for one series (its name says what the bars are). */
  legend?: boolean;
}

const H = 380;
const M = { left: 78, top: 44, bottom: 86 };
const PH = H - M.top - M.bottom;
/** The plot area's width; a chart with a legend is wider by LEGEND (the legend sits right of the plot). */
const PW = 618;
const LEGEND = 230;
const widthOf = (legend: boolean) => M.left + PW + 24 + (legend ? LEGEND : 0);
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Short labels for ticks and tooltips: 3 significant digits, exponent form outside [1e-3, 1e5). */
export function fmtNum(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(3)));
}

interface Scale {
  at: (v: number) => number;
  ticks: number[];
  log: boolean;
  lo: number;
}

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return mag * (r >= 7.5 ? 10 : r >= 3.5 ? 5 : r >= 1.5 ? 2 : 1);
}

/** A y (or numeric x) scale over [lo, hi] mapped onto [from, to] pixels. */
function scale(values: number[], log: boolean, from: number, to: number, includeZero: boolean): Scale {
  if (values.length === 0) values = [0, 1]; // nothing drawable: an empty frame
  if (log && values.some((v) => v > 0)) {
    const pos = values.filter((v) => v > 0);
    const min = Math.min(...pos);
    let a = Math.floor(Math.log10(min));
    if (10 ** a >= min * 0.999) a -= 1; // keep the smallest bar visible above the axis
    let b = Math.ceil(Math.log10(Math.max(...pos)));
    if (a === b) b = a + 1;
    const every = Math.max(1, Math.ceil((b - a) / 8));
    a -= ((a % every) + every) % every;
    const ticks: number[] = [];
    for (let e = a; e <= b; e += every) ticks.push(10 ** e);
    return { at: (v) => from + ((Math.log10(v) - a) / (b - a)) * (to - from), ticks, log, lo: 10 ** a };
  }
  log = false;
  let lo = Math.min(...values, ...(includeZero ? [0] : []));
  let hi = Math.max(...values, ...(includeZero ? [0] : []));
  if (lo === hi) [lo, hi] = lo === 0 ? [0, 1] : [Math.min(0, lo * 2), Math.max(0, hi * 2)];
  const step = niceStep(hi - lo, 5);
  lo = Math.floor(lo / step + 1e-9) * step;
  hi = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { at: (v) => from + ((v - lo) / (hi - lo)) * (to - from), ticks, log, lo };
}

/** Use a log scale when every value is positive and they span more than two decades. */
export function wantsLog(values: (number | null)[]): boolean {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length > 0 && v.every((x) => x > 0) && Math.max(...v) / Math.min(...v) > 100;
}

function frame(f: ChartFrame, y: Scale, body: string, xAxis: { svg: string; titleY: number }, legend: string): string {
  const W = widthOf(legend !== '');
  const grid = y.ticks
    .map((t) => {
      const py = y.at(t).toFixed(1);
      return `<line x1="${M.left}" x2="${M.left + PW}" y1="${py}" y2="${py}" stroke="#e5e5e5"/><text x="${M.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" font-size="11">${esc(fmtNum(t))}</text>`;
    })
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(f.title)}" data-plot="${esc(f.id)}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left + PW / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(f.title)}</text>`,
    grid,
    body,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + PH}" stroke="#333"/><line x1="${M.left}" x2="${M.left + PW}" y1="${M.top + PH}" y2="${M.top + PH}" stroke="#333"/>`,
    xAxis.svg,
    `<text x="${M.left + PW / 2}" y="${xAxis.titleY}" text-anchor="middle" font-size="12">${esc(f.xLabel)}</text>`,
    `<text transform="translate(16 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(f.yLabel)}${y.log ? ' (log scale)' : ''}</text>`,
    legend,
    '</svg>',
  ].join('\n');
}

/** Category labels under the axis, rotated when many or long; returns the SVG and the x-axis title's y. */
function categoryAxis(categories: string[], center: (i: number) => number): { svg: string; titleY: number } {
  const rotate = categories.length > 8 || categories.some((c) => c.length > 10);
  const svg = categories
    .map((c, i) => {
      const x = center(i).toFixed(1);
      const y = M.top + PH + 14;
      const label = c.length > 24 ? `${c.slice(0, 23)}…` : c;
      return rotate
        ? `<text transform="translate(${x} ${y}) rotate(-35)" text-anchor="end" font-size="11">${esc(label)}</text>`
        : `<text x="${x}" y="${y}" text-anchor="middle" font-size="11">${esc(label)}</text>`;
    })
    .join('');
  return { svg, titleY: rotate ? H - 8 : M.top + PH + 40 };
}

function legendOf(series: Series[], always = false): string {
  if (series.length < 2 && !always) return '';
  return series
    .map((s, k) => {
      const y = M.top + 4 + k * 16;
      const x = M.left + PW + 24;
      return `<rect x="${x}" y="${y}" width="10" height="10" fill="${COLORS[k % COLORS.length]}"/><text x="${x + 14}" y="${y + 9}" font-size="11">${esc(s.name.length > 36 ? `${s.name.slice(0, 35)}…` : s.name)}</text>`;
    })
    .join('');
}

const drawable = (v: number | null, log: boolean): v is number => v !== null && Number.isFinite(v) && (!log || v > 0);
const markTitle = (series: string, category: string, v: number) => `<title>${esc(`${series ? `${series}, ` : ''}${category}: ${fmtNum(v)}`)}</title>`;

export function barChart(f: ChartFrame, categories: string[], series: Series[], log = wantsLog(series.flatMap((s) => s.values))): string {
  const values = series.flatMap((s) => s.values).filter((v): v is number => drawable(v, log));
  const y = scale(values, log, M.top + PH, M.top, true);
  const band = PW / Math.max(1, categories.length);
  const bar = (band * 0.8) / Math.max(1, series.length);
  const base = log ? y.at(y.lo) : y.at(0);
  const bars = series
    .flatMap((s, k) =>
      s.values.map((v, i) => {
        if (!drawable(v, log)) return '';
        const x = M.left + i * band + band * 0.1 + k * bar;
        const top = Math.min(y.at(v), base);
        const h = Math.max(Math.abs(base - y.at(v)), 0.5);
        return `<rect class="mark" x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(bar - 1, 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[k % COLORS.length]}">${markTitle(series.length > 1 ? s.name : '', categories[i], v)}</rect>`;
      }),
    )
    .join('');
  return frame(f, y, bars, categoryAxis(categories, (i) => M.left + (i + 0.5) * band), legendOf(series, f.legend));
}

export function lineChart(f: ChartFrame, categories: string[], series: Series[], log = wantsLog(series.flatMap((s) => s.values))): string {
  const values = series.flatMap((s) => s.values).filter((v): v is number => drawable(v, log));
  const y = scale(values, log, M.top + PH, M.top, false);
  const step = PW / Math.max(1, categories.length);
  const cx = (i: number) => M.left + (i + 0.5) * step;
  const body = series
    .map((s, k) => {
      const color = COLORS[k % COLORS.length];
      // A missing value breaks the line into segments.
      const segments: string[][] = [[]];
      s.values.forEach((v, i) => {
        if (drawable(v, log)) segments[segments.length - 1].push(`${cx(i).toFixed(1)},${y.at(v).toFixed(1)}`);
        else segments.push([]);
      });
      const lines = segments.filter((p) => p.length > 1).map((p) => `<polyline points="${p.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`).join('');
      const dots = s.values
        .map((v, i) => (drawable(v, log) ? `<circle class="mark" cx="${cx(i).toFixed(1)}" cy="${y.at(v).toFixed(1)}" r="4" fill="${color}">${markTitle(s.name, categories[i], v)}</circle>` : ''))
        .join('');
      return lines + dots;
    })
    .join('');
  return frame(f, y, body, categoryAxis(categories, cx), legendOf(series, f.legend));
}

/** Counts of `values` in equal-width bins (√n of them, 5 to 40) on a numeric x axis. */
export function histogram(f: ChartFrame, values: ArrayLike<number>): string {
  const v = Array.from(values).filter(Number.isFinite);
  // NOTE: no Math.min(...v): spreading tens of thousands of samples overflows the call stack.
  let lo = v.reduce((a, b) => Math.min(a, b), Infinity);
  let hi = v.reduce((a, b) => Math.max(a, b), -Infinity);
  if (lo === hi) [lo, hi] = [lo - 0.5 * (Math.abs(lo) || 1), hi + 0.5 * (Math.abs(hi) || 1)];
  const bins = Math.min(40, Math.max(5, Math.ceil(Math.sqrt(v.length))));
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const x of v) counts[Math.min(bins - 1, Math.floor((x - lo) / width))]++;
  const y = scale(counts, false, M.top + PH, M.top, true);
  const x = scale([lo, hi], false, M.left, M.left + PW, false);
  const at = (t: number) => M.left + ((t - lo) / (hi - lo)) * PW;
  const bars = counts
    .map((c, b) => {
      if (c === 0) return '';
      const x0 = at(lo + b * width);
      const label = `[${fmtNum(lo + b * width)}, ${fmtNum(lo + (b + 1) * width)})`;
      return `<rect class="mark" x="${x0.toFixed(1)}" y="${y.at(c).toFixed(1)}" width="${Math.max(at(lo + (b + 1) * width) - x0 - 1, 1).toFixed(1)}" height="${(y.at(0) - y.at(c)).toFixed(1)}" fill="${COLORS[0]}">${markTitle('', label, c)}</rect>`;
    })
    .join('');
  const xTicks = x.ticks
    .filter((t) => t >= lo && t <= hi)
    .map((t) => `<text x="${at(t).toFixed(1)}" y="${M.top + PH + 16}" text-anchor="middle" font-size="11">${esc(fmtNum(t))}</text>`)
    .join('');
  return frame(f, y, bars, { svg: xTicks, titleY: M.top + PH + 40 }, '');
}

export interface Curve {
  name: string;
  /** Increasing x, and y at each. */
  x: number[];
  y: number[];
}

/** Curves over a shared numeric x axis (densities): one polyline per curve, its peak as the mark. */
export function curveChart(f: ChartFrame, curves: Curve[]): string {
  const xs = curves.flatMap((c) => c.x).filter(Number.isFinite);
  const ys = curves.flatMap((c) => c.y).filter(Number.isFinite);
  const y = scale(ys, false, M.top + PH, M.top, true);
  const x = scale(xs, false, M.left, M.left + PW, false);
  const body = curves
    .map((c, k) => {
      const color = COLORS[k % COLORS.length];
      const points = c.x.map((xv, i) => (Number.isFinite(xv) && Number.isFinite(c.y[i]) ? `${x.at(xv).toFixed(1)},${y.at(c.y[i]).toFixed(1)}` : '')).filter(Boolean);
      const peak = c.y.reduce((best, v, i) => (v > c.y[best] ? i : best), 0);
      const mark = c.y.length ? `<circle class="mark" cx="${x.at(c.x[peak]).toFixed(1)}" cy="${y.at(c.y[peak]).toFixed(1)}" r="3" fill="${color}"><title>${esc(`${c.name}: peak ${fmtNum(c.y[peak])} at ${fmtNum(c.x[peak])}`)}</title></circle>` : '';
      return `<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"/>${mark}`;
    })
    .join('');
  const xTicks = x.ticks
    .map((t) => `<text x="${x.at(t).toFixed(1)}" y="${M.top + PH + 16}" text-anchor="middle" font-size="11">${esc(fmtNum(t))}</text>`)
    .join('');
  return frame(f, y, body, { svg: xTicks, titleY: M.top + PH + 40 }, legendOf(curves.map((c) => ({ name: c.name, values: [] })), f.legend));
}
