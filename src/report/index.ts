/** Reports: a self-contained HTML page and SVG/PNG plots of a run or sweep output directory. */
export { writeReport, type ReportOptions, type ReportResult } from './write-report.ts';
export { loadResults, type ReportInput } from './load.ts';
export { buildPlots, PLOT_IDS, type Plot, type Missing } from './plots.ts';
export { CHROMIUM_ARGS, DEFAULT_CHROMIUM } from './png.ts';
export { ReportInputError, RasterizerUnavailableError } from './errors.ts';
