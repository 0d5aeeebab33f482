/**
 * CSV of numeric features and one label column. Read whole into memory (text is bulky and
 * rows have no fixed offsets; CSV datasets are small): features become float32 rows [D].
 * A header row is detected when the first row has a non-numeric cell (or forced by `header`).
 * Labels that are all integers ≥ 0 are classes (int64 [N]), otherwise float targets [N, 1],
 * the shape an MSELoss with one output expects; `targetsKind` overrides.
 */
import { TensorFileError, UsageError } from '../../errors/index.ts';
import { readExactly, withRegularFile } from '../../io/bounded-read.ts';
import { memoryRows, type RowSource } from './rows.ts';
import { classTargets, type TargetOptions, type Targets } from './targets.ts';

export interface CsvOptions extends TargetOptions {
  /** Column name (needs a header) or 0-based index, negative from the end. Default: the last. */
  labelColumn?: string | number;
  /** Default ','. */
  delimiter?: string;
  /** Whether the first row is a header; detected when absent. */
  header?: boolean;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const unquote = (cell: string) => {
  const c = cell.trim();
  return c.length >= 2 && c.startsWith('"') && c.endsWith('"') ? c.slice(1, -1).trim() : c;
};

function labelIndex(opt: string | number | undefined, names: string[] | undefined, cols: number, path: string): number {
  if (opt === undefined) return cols - 1;
  if (typeof opt === 'number') {
    const i = opt < 0 ? cols + opt : opt;
    if (!Number.isInteger(opt) || i < 0 || i >= cols) throw new UsageError(`labelColumn ${opt} is outside the ${cols} columns of ${path}`);
    return i;
  }
  if (!names) throw new UsageError(`labelColumn '${opt}' is a name, but ${path} has no header row; give a column index`);
  const i = names.indexOf(opt);
  if (i < 0) throw new UsageError(`labelColumn: no column '${opt}' in ${path} (columns: ${names.join(', ')})`);
  return i;
}

export async function openCsv(path: string, opts: CsvOptions): Promise<{ inputs: RowSource; targets: Targets }> {
  const delimiter = opts.delimiter ?? ',';
  if (typeof delimiter !== 'string' || delimiter.length !== 1) throw new UsageError(`delimiter must be one character, got ${JSON.stringify(delimiter)}`);
  // Regular files only, read to the size fstat gives (io/bounded-read.ts): no /dev/zero, no FIFO.
  const error = (message: string) => new TensorFileError(message);
  const text = await withRegularFile(path, error, async (file) => {
    const bytes = new Uint8Array(file.size);
    await readExactly(file, bytes, 0, path, error);
    return new TextDecoder('utf-8').decode(bytes);
  });
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows: { line: number; cells: string[] }[] = [];
  lines.forEach((l, i) => {
    if (l.trim() !== '') rows.push({ line: i + 1, cells: l.split(delimiter).map(unquote) });
  });
  if (rows.length === 0) throw new TensorFileError(`${path}: empty CSV`);
  const hasHeader = opts.header ?? rows[0].cells.some((c) => !NUMBER.test(c));
  const names = hasHeader ? rows.shift()!.cells : undefined;
  const cols = (names ?? rows[0]?.cells ?? []).length;
  if (rows.length === 0) throw new TensorFileError(`${path}: no data rows after the header`);
  if (cols < 2) throw new TensorFileError(`${path}: ${cols} column; need features and a label column`);
  const label = labelIndex(opts.labelColumn, names, cols, path);

  const N = rows.length;
  const D = cols - 1;
  const features = new Float32Array(N * D);
  const labels = new Float64Array(N);
  rows.forEach(({ line, cells }, r) => {
    if (cells.length !== cols) throw new TensorFileError(`${path}: line ${line}: ${cells.length} columns, expected ${cols}`);
    for (let c = 0, j = 0; c < cols; c++) {
      const cell = cells[c];
      if (!NUMBER.test(cell)) {
        const col = names ? `column ${c + 1} '${names[c]}'` : `column ${c + 1}`;
        throw new TensorFileError(`${path}: line ${line} (data row ${r}), ${col}: '${cell}' is not a number`);
      }
      if (c === label) labels[r] = Number(cell);
      else features[r * D + j++] = Number(cell);
    }
  });
  const isClass = opts.targetsKind ? opts.targetsKind === 'class' : labels.every((v) => Number.isInteger(v) && v >= 0);
  const targets: Targets = isClass
    ? classTargets(labels, path, opts.classes)
    : { tensor: { dtype: 'float32', shape: [N, 1], data: Float32Array.from(labels) }, kind: 'float' };
  return { inputs: memoryRows(features, [D], path), targets };
}
